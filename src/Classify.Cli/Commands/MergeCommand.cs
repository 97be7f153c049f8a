using Classify.Output;

namespace Classify.Cli.Commands;

internal sealed class MergeCommand(RunContext context)
{
    public int Run(MergeOptions o)
    {
        var shards = o.Shards.ToList();
        var output = o.Output == "-" ? null : o.Output;
        // As the classify verb: the extension names the format, and a --format that contradicts it is refused.
        var format = o.Format is null && (output is null || !OutputFormats.Implies(output)) ? OutputFormat.Jsonl : OutputFormats.Resolve(o.Format, output);
        using var stdout = output is null ? context.OpenStandardOutput() : null;
        var count = ShardMerge.Merge(shards, output, format, output is not null ? null : stdout ?? context.Out);
        context.Error.WriteLine($"classify: merged {count} results from {shards.Count} shard file(s) into {output ?? "standard output"}");
        return ExitCode.Success;
    }
}
