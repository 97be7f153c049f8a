using System.Security.Cryptography;
using Classify.Models.Zoo;

namespace Classify.Models;

/// <summary>
/// Finds a model by name (a folder of one of the model directories, else a catalogue model, downloaded into the cache
/// on first use) or by path (a model folder, or a model file with its <c>model.json</c> beside it), and checks what
/// it finds before anything native touches it.
/// </summary>
public sealed class ModelCatalog
{
    public const string DefaultModel = "mobilenet_edgetpu_224_1.0_float";
    public const string ModelDirVariable = "CLASSIFY_MODEL_DIR";

    public ModelCatalog(string modelDir) : this([modelDir]) { }

    /// <param name="modelDirs">Folders searched in order for a model of the name asked for.</param>
    /// <param name="zoo">Downloads a catalogue model that none of them holds; null: names only find folders.</param>
    public ModelCatalog(IReadOnlyList<string> modelDirs, ModelPuller? zoo = null)
    {
        ModelDirs = modelDirs;
        Zoo = zoo;
    }

    public IReadOnlyList<string> ModelDirs { get; }
    public ModelPuller? Zoo { get; }

    /// <summary>The models/ folder shipped beside the executable.</summary>
    public static string BundledModelDir() => Path.Combine(AppContext.BaseDirectory, "models");

    /// <summary>The folders a user's model names are looked up in: --model_dir alone when given; else the folders of
    /// $CLASSIFY_MODEL_DIR (colon-separated, searched first, so a site's model can stand in for a bundled one) and the
    /// bundled ones. The cache of downloaded models comes last in both cases.</summary>
    public static IReadOnlyList<string> SearchPath(string? modelDir, ModelCache cache, RunEnvironment environment)
    {
        var dirs = new List<string>();
        if (modelDir is not null)
            dirs.Add(modelDir);
        else
        {
            if (environment.NonEmpty(ModelDirVariable) is { } variable)
                dirs.AddRange(variable.Split(':', StringSplitOptions.RemoveEmptyEntries));
            dirs.Add(BundledModelDir());
        }
        dirs.Add(cache.ModelsDir);
        return dirs;
    }

    /// <summary>Names of the models in the model directories (folders holding a manifest), first occurrence first.</summary>
    public IReadOnlyList<string> Names() => Folders().Select(f => Path.GetFileName(f)).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Every model folder of every model directory, in search order (a name may occur twice; the first wins).</summary>
    public IEnumerable<string> Folders() =>
        ModelDirs.Where(Directory.Exists).SelectMany(dir => Directory.EnumerateDirectories(dir)
            .Where(d => !Path.GetFileName(d).StartsWith('.') && File.Exists(Path.Combine(d, ModelManifest.FileName)))
            .Order(StringComparer.Ordinal));

    /// <summary>Resolves <paramref name="nameOrPath"/> to a manifest. When it names a model file, that
    /// file's format is returned in <paramref name="requestedFormat"/> so the caller can pick the backend.</summary>
    public ModelManifest Resolve(string nameOrPath, out string? requestedFormat, CancellationToken cancel = default)
    {
        requestedFormat = null;
        string manifestPath;
        if (File.Exists(nameOrPath))
        {
            var full = Path.GetFullPath(nameOrPath);
            manifestPath = Path.Combine(Path.GetDirectoryName(full)!, ModelManifest.FileName);
            if (Path.GetFileName(full) != ModelManifest.FileName)
            {
                if (!File.Exists(manifestPath))
                    throw new ClassifyException(ExitCode.ManifestInvalid, nameOrPath,
                        $"no {ModelManifest.FileName} beside the model; write one with 'classify models add {nameOrPath} --preset torchvision|inception|caffe-bgr|tf-mobilenet' (see classify models add --help)");
                var manifest = Load(manifestPath);
                var entry = manifest.Files.FirstOrDefault(f => string.Equals(manifest.PathOf(f.Value), full, StringComparison.Ordinal));
                if (entry.Value is null)
                    throw new ClassifyException(ExitCode.ManifestInvalid, manifestPath, $"does not list {Path.GetFileName(full)} under \"files\"");
                requestedFormat = entry.Key;
                return manifest;
            }
        }
        else if (Directory.Exists(nameOrPath) && File.Exists(Path.Combine(nameOrPath, ModelManifest.FileName)))
        {
            manifestPath = Path.Combine(nameOrPath, ModelManifest.FileName);
        }
        else if (LooksLikePath(nameOrPath))
        {
            throw new ClassifyException(ExitCode.ModelNotFound, nameOrPath,
                Directory.Exists(nameOrPath) ? $"directory has no {ModelManifest.FileName}" : "no such model file or directory");
        }
        else if (ModelDirs.Select(d => Path.Combine(d, nameOrPath, ModelManifest.FileName)).FirstOrDefault(File.Exists) is { } found)
        {
            manifestPath = found;
        }
        else if (Zoo?.Catalogue.Find(nameOrPath) is { } zooEntry)
        {
            manifestPath = Zoo.Pull(zooEntry, cancel);
        }
        else
        {
            var known = Names();
            var catalogue = Zoo?.Catalogue.Entries.Select(e => e.Name).ToList() ?? [];
            // --model_dir (classify_image.py's flag) naming a folder that is not there: say that, not "available: none".
            if (ModelDirs.FirstOrDefault(d => !Directory.Exists(d) && d != ModelDirs[^1]) is { } missing)
                throw new ClassifyException(ExitCode.ModelNotFound, missing, $"no such model folder (--model_dir or {ModelDirVariable}), so no model '{nameOrPath}' in it");
            var all = known.Concat(catalogue).ToList();
            var near = all.FirstOrDefault(n => n.StartsWith(nameOrPath, StringComparison.OrdinalIgnoreCase))
                ?? Suggestions.Closest(nameOrPath, all, maxDistance: 3);
            throw new ClassifyException(ExitCode.ModelNotFound, null,
                $"unknown model '{nameOrPath}'{(near is null ? "" : $" (did you mean {near}?)")}; available: {(known.Count == 0 ? "none" : string.Join(", ", known))}" +
                (catalogue.Count > 0 ? $"; to download: {string.Join(", ", catalogue)}" : "") + " (classify models list)");
        }
        return Load(manifestPath);
    }

    // Model names contain dots ("squeezenet1.1"), so only a separator or a model-file extension makes a path.
    private static bool LooksLikePath(string s) =>
        s.Contains('/') || s.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || s.EndsWith(".pt", StringComparison.OrdinalIgnoreCase) || s.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads and validates a manifest.</summary>
    public static ModelManifest Load(string manifestPath)
    {
        ModelManifest manifest;
        try
        {
            manifest = ManifestReader.Parse(File.ReadAllBytes(manifestPath));
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.ManifestInvalid, manifestPath, $"cannot read the model manifest: {e.Message}");
        }
        manifest.Directory = Path.GetDirectoryName(Path.GetFullPath(manifestPath))!;
        Validate(manifest, manifestPath);
        return manifest;
    }

    private static void Validate(ModelManifest m, string path)
    {
        void Check([System.Diagnostics.CodeAnalysis.DoesNotReturnIf(false)] bool ok, string problem)
        {
            if (!ok) throw new ClassifyException(ExitCode.ManifestInvalid, path, problem);
        }
        Check(m.Files.Count > 0, "\"files\" lists no model file");
        Check(m.Input.Width > 0 && m.Input.Height > 0, "input width and height must be positive");
        // ManifestReader refuses nulls and fills defaults; the lengths are still the file's to get right.
        Check(m.Input.Mean.Length == 3 && m.Input.Std.Length == 3, "input mean and std need 3 values each");
        Check(m.Input.Std.All(s => s != 0), "input std must not be 0");
        Check(m.Input.ElementType != TensorElementKind.Uint8 || (m.Input.Scale == 1 && m.Input.Mean.All(v => v == 0) && m.Input.Std.All(v => v == 1)),
            "a uint8 input takes raw pixels: scale 1, mean 0, std 1");
        Check(m.Input.Resize.Mode != ResizeMode.CenterCrop || m.Input.Resize.ShorterSide >= Math.Max(m.Input.Width, m.Input.Height),
            "center_crop needs resize.shorterSide >= the input size");
        Check(m.Input.Resize.Mode != ResizeMode.CentralCrop || m.Input.Resize.Fraction is > 0 and <= 1,
            "central_crop needs 0 < resize.fraction <= 1");
        Check(m.Output.Classes > 0, "output classes must be positive");
        Check(m.Labels.FirstClassOutput >= 0 && m.Labels.FirstClassOutput < m.Output.Classes, "labels.firstClassOutput must be an output index");
    }

    /// <summary>The model file for <paramref name="format"/>, checked against its SHA-256 so that a corrupt
    /// or truncated download fails here, in words, and not inside the native runtime.</summary>
    public static string VerifiedFile(ModelManifest manifest, string format)
    {
        if (!manifest.Files.TryGetValue(format, out var file))
            throw new ClassifyException(ExitCode.ModelNotFound, Path.Combine(manifest.Directory, ModelManifest.FileName),
                $"model '{manifest.Name}' has no {format} file (it has: {string.Join(", ", manifest.Files.Keys)})");
        var path = manifest.PathOf(file);
        if (!File.Exists(path))
            throw new ClassifyException(ExitCode.ModelNotFound, path, "model file not found");
        var actual = Sha256Of(path);
        // A user's manifest may leave the hash out: it is known from here on (results and the resume journal name it).
        file.Sha256 ??= actual;
        if (!string.Equals(actual, file.Sha256, StringComparison.OrdinalIgnoreCase))
            throw new ClassifyException(ExitCode.ModelCorrupt, path,
                $"checksum mismatch (sha256 {actual}, manifest says {file.Sha256}): the file is corrupt or incomplete; copy it again");
        return path;
    }

    public static string Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
