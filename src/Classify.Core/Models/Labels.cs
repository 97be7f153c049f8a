using System.Security.Cryptography;

namespace Classify.Models;

/// <summary>Class names of a model, one per line, checked against the model's outputs.</summary>
public sealed class Labels
{
    private Labels(string[] names, string[]? synsets, int firstClassOutput)
    {
        Names = names;
        Synsets = synsets;
        FirstClassOutput = firstClassOutput;
    }

    public IReadOnlyList<string> Names { get; }

    /// <summary>The synset id of each label (same index), or null when the manifest names no synsets file.</summary>
    public IReadOnlyList<string>? Synsets { get; }

    /// <summary>Output index of label 0 (see <see cref="LabelsSpec.FirstClassOutput"/>).</summary>
    public int FirstClassOutput { get; }

    public static Labels Load(ModelManifest manifest)
    {
        var path = manifest.PathOf(manifest.Labels.Path);
        var names = ReadNonEmptyLines(path, manifest.Labels.Sha256, "labels");
        var first = manifest.Labels.FirstClassOutput;
        if (names.Length != manifest.Output.Classes - first)
            throw new ClassifyException(ExitCode.LabelsMismatch, path,
                $"has {names.Length} labels but model '{manifest.Name}' has {manifest.Output.Classes} outputs" +
                (first > 0 ? $" of which the first {first} are not classes" : "") + $" ({manifest.Output.Classes - first} labels expected)");
        string[]? synsets = null;
        if (manifest.Labels.Synsets is { } relative)
        {
            var synsetPath = manifest.PathOf(relative);
            // The id is the first word of each line; the rest is the synset's words, which are for people.
            synsets = [.. ReadNonEmptyLines(synsetPath, manifest.Labels.SynsetsSha256, "synsets").Select(l => l.Split((char[]?)null, 2)[0])];
            // A synsets file one line short would shift every id after the gap onto the wrong label without a word.
            if (synsets.Length != names.Length)
                throw new ClassifyException(ExitCode.LabelsMismatch, synsetPath,
                    $"has {synsets.Length} synset ids but {manifest.Labels.Path} has {names.Length} labels: one id per label, in label order");
        }
        return new Labels(names, synsets, first);
    }

    /// <summary>The file's lines, trimmed, blank ones skipped, after checking its SHA-256 when the manifest gives one.</summary>
    private static string[] ReadNonEmptyLines(string path, string? sha256, string what)
    {
        if (!File.Exists(path))
            throw new ClassifyException(ExitCode.ModelNotFound, path, $"{what} file not found");
        // Read once: the same bytes are checked and parsed.
        var bytes = File.ReadAllBytes(path);
        if (sha256 is { } expected && !string.Equals(Convert.ToHexStringLower(SHA256.HashData(bytes)), expected, StringComparison.OrdinalIgnoreCase))
            throw new ClassifyException(ExitCode.ModelCorrupt, path, $"{what} file checksum mismatch: the file was changed or is incomplete");
        using var text = new StreamReader(new MemoryStream(bytes)); // UTF-8, BOM honoured, as File.ReadAllLines
        return [.. ReadLines(text).Select(l => l.Trim()).Where(l => l.Length > 0)];
    }

    private static IEnumerable<string> ReadLines(TextReader reader)
    {
        while (reader.ReadLine() is { } line) yield return line;
    }

    /// <summary>Checks the real output size of a loaded model against the labels.</summary>
    public static void CheckOutputSize(ModelManifest manifest, long actualClasses, string modelPath)
    {
        if (actualClasses > 0 && actualClasses != manifest.Output.Classes)
            throw new ClassifyException(ExitCode.LabelsMismatch, modelPath,
                $"the model has {actualClasses} outputs but its manifest and labels expect {manifest.Output.Classes}");
    }
}
