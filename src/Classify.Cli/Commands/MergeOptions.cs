using Classify.Output;
using CommandLine;

namespace Classify.Cli.Commands;

[Verb("merge", HelpText = "Join the jsonl shard files of a sharded run (e.g. classify-array.sbatch) into one file, in the order given.")]
internal sealed class MergeOptions
{
    [Option("output", Required = true, HelpText = "The merged file, written atomically (it appears only when complete).")]
    public string Output { get; set; } = "";

    [Option("format", Default = OutputFormat.Jsonl, HelpText = "jsonl (the shards' lines, byte for byte), json, csv or text.")]
    public OutputFormat Format { get; set; }

    [Value(0, MetaName = "SHARD.jsonl", Min = 1, HelpText = "Shard files, in shard order (a sorted glob of results.shard-*-of-*.jsonl is).")]
    public IEnumerable<string> Shards { get; set; } = [];
}
