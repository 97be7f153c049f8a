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
        [".parquet"] = OutputFormat.Parquet,
    };

    /// <summary>Whether <paramref name="output"/>'s extension names a format.</summary>
    public static bool Implies(string output) => ByExtension.ContainsKey(Path.GetExtension(output));

    public static OutputFormat Resolve(OutputFormat? format, string? output)
    {
        OutputFormat? implied = output is not null && ByExtension.TryGetValue(Path.GetExtension(output), out var f) ? f : null;
        // out.tsv would silently get text: an extension that names no format needs --format.
        if (format is null && implied is null && output is not null && Path.GetExtension(output) is { Length: > 1 } unknown && !IsDeviceOrPipe(output))
            throw new ClassifyException(ExitCode.Usage, null,
                $"--output {output}: {unknown} names no output format (.jsonl, .json, .csv, .txt, .parquet); add --format jsonl|json|csv|text|parquet, or name the file for its format");
        if (format is { } given && implied is { } fromName && given != fromName)
            throw new ClassifyException(ExitCode.Usage, null,
                $"--format {Name(given)} contradicts --output {output} (a {Path.GetExtension(output)} file holds {Name(fromName)}); drop one, or name the file for its format");
        var resolved = format ?? implied ?? OutputFormat.Text;
        // A Parquet file is read from its end (the footer says where everything is): no reader takes it from a pipe.
        if (resolved == OutputFormat.Parquet && output is null)
            throw new ClassifyException(ExitCode.Usage, null,
                "--format parquet is written to a file, not to standard output (a Parquet file is read from its end): add --output FILE.parquet");
        return resolved;
    }

    private static bool IsDeviceOrPipe(string output) => output.StartsWith("/dev/", StringComparison.Ordinal) || Output.AtomicFile.IsSpecialFile(output);

    private static string Name(OutputFormat f) => f.ToString().ToLowerInvariant();
}
