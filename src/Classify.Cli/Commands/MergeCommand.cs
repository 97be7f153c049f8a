using Classify.Output;

namespace Classify.Cli.Commands;

internal sealed class MergeCommand(Console console)
{
    public int Run(MergeOptions o)
    {
        var shards = o.Shards.ToList();
        var output = o.Output == "-" ? null : o.Output;
        // As the classify verb: the extension names the format, and a --format that contradicts it is refused.
        var format = o.Format is null && (output is null || !OutputFormats.Implies(output)) ? OutputFormat.Jsonl : OutputFormats.Resolve(o.Format, output);
        var count = ShardMerge.Merge(shards, output, format,
            output is not null ? null : console.Out == System.Console.Out ? ResultWriter.OpenText(OutputFaults.OpenStandardOutput(), autoFlush: true) : console.Out);
        console.Error.WriteLine($"classify: merged {count} results from {shards.Count} shard file(s) into {output ?? "standard output"}");
        return ExitCode.Success;
    }
}
