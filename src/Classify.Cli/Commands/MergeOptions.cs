using Classify.Output;
using CommandLine;

namespace Classify.Cli.Commands;

[Verb("merge", HelpText = "Join the jsonl shard files of a sharded run (e.g. classify-array.sbatch) into one file: results.shard-I-of-N files in the order of I (whatever the order given), other names in the order given.")]
internal sealed class MergeOptions
{
    [Help("Options", "FILE")]
    [Option("output", Required = true, HelpText = "The merged file, written atomically (it appears only when complete).")]
    public string Output { get; set; } = "";

    [Help("Options", "jsonl|json|csv|text")]
    [Option("format", Default = OutputFormat.Jsonl, HelpText = "jsonl (the shards' lines, byte for byte), json, csv or text.")]
    public OutputFormat Format { get; set; }

    [Value(0, MetaName = "SHARD.jsonl", Min = 1, HelpText = "Shard files, e.g. out/results.shard-*-of-*.jsonl (a complete set; each file once).")]
    public IEnumerable<string> Shards { get; set; } = [];
}
