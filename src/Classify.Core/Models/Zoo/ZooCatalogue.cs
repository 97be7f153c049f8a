using System.Text.Json;

namespace Classify.Models.Zoo;

/// <summary>One downloadable model of the catalogue: where its file is, what it must hash to, and the manifest it is
/// installed with.</summary>
public sealed class ZooEntry
{
    public required string Name { get; init; }
    public required IReadOnlyList<string> Aliases { get; init; }
    public string? Description { get; init; }
    public string? Licence { get; init; }
    public double? Top1 { get; init; }

    /// <summary>The file's path below the catalogue's base URL (or a site mirror).</summary>
    public required string FilePath { get; init; }
    public required string Sha256 { get; init; }
    public required long Bytes { get; init; }

    /// <summary>The labels file, as a full path (the catalogue's paths are relative to it).</summary>
    public required string LabelsPath { get; init; }
    public int FirstClassOutput { get; init; }

    /// <summary>The WordNet ids of the labels (synset.txt), as a full path; null when the catalogue gives none.</summary>
    public string? SynsetsPath { get; init; }

    /// <summary>The "input" and "output" objects of the model.json it is installed with, as JSON text.</summary>
    public required string InputJson { get; init; }
    public required string OutputJson { get; init; }

    public string FileName => FilePath[(FilePath.LastIndexOf('/') + 1)..];

    public bool Answers(string name) =>
        string.Equals(Name, name, StringComparison.OrdinalIgnoreCase) || Aliases.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The file's URL at <paramref name="baseUrl"/> (the catalogue's, or a mirror serving the same paths).</summary>
    public Uri Url(string baseUrl) => new(baseUrl.TrimEnd('/') + "/" + FilePath);
}

/// <summary>
/// The catalogue of downloadable models: a data file (models/catalog.json, shipped beside the bundled models, or the file
/// $CLASSIFY_CATALOG names), so that a model is added or re-pinned without touching code.
/// </summary>
public sealed class ZooCatalogue
{
    public const string FileName = "catalog.json";
    public const string Variable = "CLASSIFY_CATALOG";

    private ZooCatalogue(string path, string baseUrl, IReadOnlyList<ZooEntry> entries)
    {
        Path = path;
        BaseUrl = baseUrl;
        Entries = entries;
    }

    public string Path { get; }
    public string BaseUrl { get; }
    public IReadOnlyList<ZooEntry> Entries { get; }

    public ZooEntry? Find(string name) => Entries.FirstOrDefault(e => e.Answers(name));

    /// <summary>$CLASSIFY_CATALOG, else catalog.json in the bundled models folder; null when there is none.</summary>
    public static ZooCatalogue? ForUser(string bundledModelDir, RunEnvironment environment)
    {
        var named = environment.NonEmpty(Variable);
        var path = named ?? System.IO.Path.Combine(bundledModelDir, FileName);
        if (!File.Exists(path))
        {
            if (named is not null)
                throw new ClassifyException(ExitCode.ManifestInvalid, path, $"no such model catalogue (named by {Variable})");
            return null;
        }
        return Load(path);
    }

    public static ZooCatalogue Load(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            var root = doc.RootElement;
            var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
            var baseUrl = Text(root, "baseUrl");
            var entries = new List<ZooEntry>();
            foreach (var m in Get(root, "models").EnumerateArray())
            {
                var file = Get(m, "file");
                var labels = Get(m, "labels");
                var manifest = Get(m, "manifest");
                var name = Text(m, "name");
                if (name.Length == 0 || name.IndexOfAny(['/', '\\']) >= 0 || name.StartsWith('.'))
                    throw new FormatException($"\"{name}\" is not a model name (no slashes, not starting with a dot)");
                entries.Add(new ZooEntry
                {
                    Name = name,
                    Aliases = m.TryGetProperty("aliases", out var a) ? a.EnumerateArray().Select(x => x.GetString()!).ToList() : [],
                    Description = m.TryGetProperty("description", out var d) ? d.GetString() : null,
                    Licence = m.TryGetProperty("licence", out var l) ? l.GetString() : null,
                    Top1 = m.TryGetProperty("top1", out var t) ? t.GetDouble() : null,
                    FilePath = Text(file, "path"),
                    Sha256 = Text(file, "sha256").ToLowerInvariant(),
                    Bytes = Get(file, "bytes").GetInt64(),
                    LabelsPath = System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, Text(labels, "path"))),
                    FirstClassOutput = labels.TryGetProperty("firstClassOutput", out var f) ? f.GetInt32() : 0,
                    SynsetsPath = labels.TryGetProperty("synsets", out var sy) ? System.IO.Path.GetFullPath(System.IO.Path.Combine(dir, sy.GetString()!)) : null,
                    InputJson = Get(manifest, "input").GetRawText(),
                    OutputJson = Get(manifest, "output").GetRawText(),
                });
            }
            return new ZooCatalogue(path, baseUrl, entries);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException or IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.ManifestInvalid, path, $"cannot read the model catalogue: {e.Message}");
        }
    }

    private static JsonElement Get(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? v : throw new FormatException($"the field \"{name}\" is missing");

    private static string Text(JsonElement e, string name) =>
        Get(e, name).GetString() ?? throw new FormatException($"\"{name}\" must be a string");
}
