using Classify.Output;

namespace Classify.Cli.Commands;

/// <summary>The output format of a run: --format, else what --output's extension says, else text.</summary>
internal static class OutputFormats
{
    private static readonly Dictionary<string, OutputFormat> ByExtension = new(StringComparer.OrdinalIgnoreCase)
    {
        [".jsonl"] = OutputFormat.Jsonl,
        [".json"] = OutputFormat.Json,
        [".csv"] = OutputFormat.Csv,
        [".txt"] = OutputFormat.Text,
    };

    /// <summary>Whether <paramref name="output"/>'s extension names a format.</summary>
    public static bool Implies(string output) => ByExtension.ContainsKey(Path.GetExtension(output));

    public static OutputFormat Resolve(OutputFormat? format, string? output)
    {
        OutputFormat? implied = output is not null && ByExtension.TryGetValue(Path.GetExtension(output), out var f) ? f : null;
        if (format is { } given && implied is { } fromName && given != fromName)
            throw new ClassifyException(ExitCode.Usage, null,
                $"--format {Name(given)} contradicts --output {output} (a {Path.GetExtension(output)} file holds {Name(fromName)}); drop one, or name the file for its format");
        return format ?? implied ?? OutputFormat.Text;
    }

    private static string Name(OutputFormat f) => f.ToString().ToLowerInvariant();
}
