using Classify.Output;
using CommandLine;

namespace Classify.Cli.Commands;

[Verb("merge", HelpText = "Join the shard files of a sharded run (--shard, classify-array.sbatch, MPI ranks) into one file, the same bytes as one run: every shard once, checked against the trailer each ends with, joined in shard order whatever the order given.")]
internal sealed class MergeOptions
{
    [Help("Options", "FILE")]
    [Option("output", Required = true, HelpText = "The merged file, written atomically (it appears only when complete); - for standard output. Not one of the shards.")]
    public string Output { get; set; } = "";

    [Help("Options", "jsonl|json|csv|text|parquet")]
    [Option("format", HelpText = "jsonl, json, csv, text or parquet: what one run with that --format writes. Default: from --output's extension (.jsonl, .json, .csv, .txt, .parquet), else jsonl.")]
    public OutputFormat? Format { get; set; }

    [Value(0, MetaName = "SHARD.jsonl", Min = 1, HelpText = "Shard files, e.g. out/results.shard-*-of-*.jsonl (a complete set; each file once); the shards of a parquet run (SHARD.parquet) likewise.")]
    public IEnumerable<string> Shards { get; set; } = [];
}
