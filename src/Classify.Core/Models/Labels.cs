using System.Security.Cryptography;

namespace Classify.Models;

/// <summary>Class names of a model, one per line, checked against the model's outputs.</summary>
public sealed class Labels
{
    private Labels(string[] names, int firstClassOutput)
    {
        Names = names;
        FirstClassOutput = firstClassOutput;
    }

    public IReadOnlyList<string> Names { get; }

    /// <summary>Output index of label 0 (see <see cref="LabelsSpec.FirstClassOutput"/>).</summary>
    public int FirstClassOutput { get; }

    public static Labels Load(ModelManifest manifest)
    {
        var path = manifest.PathOf(manifest.Labels.Path);
        if (!File.Exists(path))
            throw new ClassifyException(ExitCode.ModelNotFound, path, "labels file not found");
        // Read once: the same bytes are checked and parsed.
        var bytes = File.ReadAllBytes(path);
        if (manifest.Labels.Sha256 is { } expected && !string.Equals(Convert.ToHexStringLower(SHA256.HashData(bytes)), expected, StringComparison.OrdinalIgnoreCase))
            throw new ClassifyException(ExitCode.ModelCorrupt, path, "labels file checksum mismatch: the file was changed or is incomplete");
        using var text = new StreamReader(new MemoryStream(bytes)); // UTF-8, BOM honoured, as File.ReadAllLines
        var names = ReadLines(text).Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        var first = manifest.Labels.FirstClassOutput;
        if (names.Length != manifest.Output.Classes - first)
            throw new ClassifyException(ExitCode.LabelsMismatch, path,
                $"has {names.Length} labels but model '{manifest.Name}' has {manifest.Output.Classes} outputs" +
                (first > 0 ? $" of which the first {first} are not classes" : "") + $" ({manifest.Output.Classes - first} labels expected)");
        return new Labels(names, first);
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
