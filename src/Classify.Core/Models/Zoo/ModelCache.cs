using System.Security.Cryptography;
using System.Text.Json;

namespace Classify.Models.Zoo;

/// <summary>
/// Where downloaded models live: $CLASSIFY_CACHE, else $XDG_CACHE_HOME/classify, else ~/.cache/classify (on a cluster,
/// usually a home directory that the login node and the compute nodes share). Each model is a folder of
/// <c>models/</c> with its file, labels and model.json, like a bundled one; it appears there in one rename, complete.
/// Downloads in progress are kept in <c>downloads/</c> so that an interrupted pull resumes.
/// </summary>
public sealed class ModelCache(string root)
{
    public const string Variable = "CLASSIFY_CACHE";

    public string Root { get; } = root;
    public string ModelsDir => Path.Combine(Root, "models");
    private string DownloadsDir => Path.Combine(Root, "downloads");
    private string LocksDir => Path.Combine(Root, "locks");

    public static ModelCache ForUser(RunEnvironment environment)
    {
        if (environment.NonEmpty(Variable) is { } dir)
            return new ModelCache(Path.GetFullPath(dir));
        var xdg = environment.NonEmpty("XDG_CACHE_HOME");
        var home = environment.NonEmpty("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return new ModelCache(Path.GetFullPath(xdg is { Length: > 0 } ? Path.Combine(xdg, "classify") : Path.Combine(home, ".cache", "classify")));
    }

    public string FolderOf(string name) => Path.Combine(ModelsDir, name);

    /// <summary>The installed model's manifest when <paramref name="entry"/> is installed with the file it pins.</summary>
    public string? Installed(ZooEntry entry)
    {
        var manifest = Path.Combine(FolderOf(entry.Name), ModelManifest.FileName);
        if (!File.Exists(manifest)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(manifest), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
            var pinned = doc.RootElement.GetProperty("files").GetProperty("onnx").GetProperty("sha256").GetString();
            return string.Equals(pinned, entry.Sha256, StringComparison.OrdinalIgnoreCase) ? manifest : null;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            return null; // a damaged install is replaced by the next pull
        }
    }

    /// <summary>The partial download of <paramref name="entry"/>'s file (resumed by the next pull).</summary>
    public string PartialFile(ZooEntry entry)
    {
        Directory.CreateDirectory(DownloadsDir);
        return Path.Combine(DownloadsDir, $"{entry.Name}-{entry.Sha256[..12]}.part");
    }

    /// <summary>
    /// Holds the lock of model <paramref name="name"/> for the pull: a second job pulling the same model waits for the
    /// first (flock on a lock file, which .NET takes for FileShare.None on Unix, and which the kernel releases when
    /// the holder dies, so no lock is ever stale) and then finds it installed.
    /// </summary>
    public IDisposable Lock(string name, Action<string> log, CancellationToken cancel)
    {
        Directory.CreateDirectory(LocksDir);
        var path = Path.Combine(LocksDir, name + ".lock");
        var said = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                if (!said)
                {
                    log($"waiting for another classify that is pulling {name} (lock {path})");
                    said = true;
                }
                cancel.WaitHandle.WaitOne(250);
                cancel.ThrowIfCancellationRequested();
            }
        }
    }

    /// <summary>Installs a verified download as models/NAME/: the file, the labels and model.json are written into a
    /// temporary folder that is renamed into place, so a model folder is either absent or complete.</summary>
    public string Install(ZooEntry entry, string verifiedFile, Action<ModelManifest>? check = null)
    {
        Directory.CreateDirectory(ModelsDir);
        var temp = Path.Combine(ModelsDir, $".{entry.Name}.tmp-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        try
        {
            File.Move(verifiedFile, Path.Combine(temp, entry.FileName));
            var labels = File.ReadAllBytes(entry.LabelsPath);
            File.WriteAllBytes(Path.Combine(temp, "labels.txt"), labels);
            string? synsetsSha256 = null;
            if (entry.SynsetsPath is { } synsetsPath)
            {
                var synsets = File.ReadAllBytes(synsetsPath);
                File.WriteAllBytes(Path.Combine(temp, "synsets.txt"), synsets);
                synsetsSha256 = Convert.ToHexStringLower(SHA256.HashData(synsets));
            }
            File.WriteAllBytes(Path.Combine(temp, ModelManifest.FileName), ManifestFor(entry, Convert.ToHexStringLower(SHA256.HashData(labels)), synsetsSha256));
            check?.Invoke(ModelCatalog.Load(Path.Combine(temp, ModelManifest.FileName)));
            var target = FolderOf(entry.Name);
            if (Directory.Exists(target))
            {
                var old = Path.Combine(ModelsDir, $".{entry.Name}.old-{Environment.ProcessId}");
                Directory.Move(target, old);
                Directory.Delete(old, recursive: true);
            }
            Directory.Move(temp, target);
            return Path.Combine(target, ModelManifest.FileName);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>Removes model <paramref name="name"/>'s folder; false when it is not in the cache.</summary>
    public bool Remove(string name)
    {
        var folder = FolderOf(name);
        if (!Directory.Exists(folder)) return false;
        var old = Path.Combine(ModelsDir, $".{name}.rm-{Environment.ProcessId}");
        Directory.Move(folder, old); // gone at once for every reader, then deleted
        Directory.Delete(old, recursive: true);
        return true;
    }

    private static byte[] ManifestFor(ZooEntry entry, string labelsSha256, string? synsetsSha256)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("name", entry.Name);
            if (entry.Description is not null) json.WriteString("description", entry.Description);
            if (entry.Licence is not null) json.WriteString("licence", entry.Licence);
            json.WriteStartObject("files");
            json.WriteStartObject("onnx");
            json.WriteString("path", entry.FileName);
            json.WriteString("sha256", entry.Sha256);
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteStartObject("labels");
            json.WriteString("path", "labels.txt");
            json.WriteString("sha256", labelsSha256);
            json.WriteNumber("firstClassOutput", entry.FirstClassOutput);
            if (synsetsSha256 is not null)
            {
                json.WriteString("synsets", "synsets.txt");
                json.WriteString("synsetsSha256", synsetsSha256);
            }
            json.WriteEndObject();
            json.WritePropertyName("input");
            json.WriteRawValue(entry.InputJson);
            json.WritePropertyName("output");
            json.WriteRawValue(entry.OutputJson);
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    public static string Describe(long bytes) =>
        bytes >= 1 << 20 ? $"{bytes / 1048576.0:0.0} MiB" : bytes >= 1 << 10 ? $"{bytes / 1024.0:0} KiB" : $"{bytes} B";
}
