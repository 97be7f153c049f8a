namespace Classify.Tests;

/// <summary><c>classify merge</c> as a job script runs it: real processes on the real photos.</summary>
public sealed class MergeCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Folder = ["--image_dir", TestData.Images, "--format", "jsonl"];

    private List<string> RunShards(int count)
    {
        var shards = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var shard = _dir.File($"results.shard-{i:D4}-of-{count:D4}.jsonl");
            var r = ClassifyProcess.Run([.. Folder, "--shard", $"{i}/{count}", "--output", shard]);
            Assert.Equal(0, r.ExitCode);
            shards.Add(shard);
        }
        return shards;
    }

    [Fact]
    public void Merged_shard_runs_equal_one_unsharded_run_byte_for_byte()
    {
        var single = _dir.File("single.jsonl");
        Assert.Equal(0, ClassifyProcess.Run([.. Folder, "--output", single]).ExitCode);
        var shards = RunShards(3);

        var merged = _dir.File("merged.jsonl");
        var r = ClassifyProcess.Run(["merge", "--output", merged, .. shards]);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(4, File.ReadAllLines(single).Length);
        Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(merged));
    }

    [Fact]
    public void A_missing_shard_fails_with_one_line_naming_it_and_writes_nothing()
    {
        var shards = RunShards(2);
        File.Delete(shards[1]);
        var merged = _dir.File("merged.jsonl");

        var r = ClassifyProcess.Run(["merge", "--output", merged, shards[0]]);

        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.Equal($"classify: {shards[1]}: missing: 1 of 2 shards not given (shard 1); did those tasks finish?\n", r.Stderr);
        Assert.False(File.Exists(merged));
        Assert.Empty(Directory.GetFiles(_dir.Path, ".merged*"));
    }

    [Fact]
    public void A_truncated_shard_fails_naming_it()
    {
        var shards = RunShards(2);
        var bytes = File.ReadAllBytes(shards[0]);
        File.WriteAllBytes(shards[0], bytes[..^30]);

        var r = ClassifyProcess.Run(["merge", "--output", _dir.File("merged.jsonl"), .. shards]);

        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.StartsWith($"classify: {shards[0]}: line 2 is not a classify result", r.Stderr);
    }

    [Fact]
    public void Merge_into_csv_matches_a_csv_run_up_to_the_last_digit()
    {
        var single = ClassifyProcess.Run("--image_dir", TestData.Images, "--format", "csv").StdoutLines;
        var merged = _dir.File("merged.csv");

        var r = ClassifyProcess.Run(["merge", "--format", "csv", "--output", merged, .. RunShards(2)]);

        Assert.Equal(0, r.ExitCode);
        var lines = File.ReadAllLines(merged);
        Assert.Equal(single.Length, lines.Length);
        // Shards keep 6 decimals; rounding those to csv's 5 can differ by one in the last digit (0.0840750).
        foreach (var (expected, actual) in single.Zip(lines).Skip(1))
        {
            var (expectedRow, expectedScore) = SplitScore(expected);
            var (actualRow, actualScore) = SplitScore(actual);
            Assert.Equal(expectedRow, actualRow);
            Assert.Equal(expectedScore, actualScore, 0.0000101);
        }
    }

    /// <summary>A csv row "file,rank,label,class,score," as (everything before the score, the score).</summary>
    private static (string Row, double Score) SplitScore(string line)
    {
        var comma = line.LastIndexOf(',', line.Length - 2);
        return (line[..comma], double.Parse(line[(comma + 1)..^1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Merge_without_shard_files_is_a_usage_error()
    {
        var r = ClassifyProcess.Run("merge", "--output", _dir.File("merged.jsonl"));
        Assert.Equal(ExitCode.Usage, r.ExitCode);
    }
}
