using Classify.Output;

namespace Classify.Cli.Commands;

internal sealed class MergeCommand(Console console)
{
    public int Run(MergeOptions o)
    {
        var shards = o.Shards.ToList();
        var count = ShardMerge.Merge(shards, o.Output, o.Format);
        console.Error.WriteLine($"classify: merged {count} results from {shards.Count} shard file(s) into {o.Output}");
        return ExitCode.Success;
    }
}
