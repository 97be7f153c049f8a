namespace Classify.Tests;

/// <summary><c>classify merge</c> as a job script runs it: real processes on the real photos.</summary>
public sealed class MergeCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Folder = ["--image_dir", TestData.Images, "--format", "jsonl", "-m", TestData.SqueezeNet];

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

    [Theory]
    [InlineData("jsonl")]
    [InlineData("csv")]
    public void Bytes_after_a_result_or_a_device_as_a_shard_fail_with_exit_30_and_write_nothing(string format)
    {
        var shards = RunShards(2);
        var lines = File.ReadAllLines(shards[1]);
        lines[0] += " trailing";
        File.WriteAllLines(shards[1], lines);
        var merged = _dir.File("merged." + format);

        var r = ClassifyProcess.Run(["merge", "--output", merged, .. shards]);
        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.Equal($"classify: {shards[1]}: line 1 is not a classify result", r.Stderr.Trim());
        Assert.False(File.Exists(merged));

        var device = ClassifyProcess.Run("merge", "--output", merged, "/dev/zero");
        Assert.Equal(ExitCode.ShardInvalid, device.ExitCode);
        Assert.Equal("classify: /dev/zero: is not a regular file, so not a finished shard", device.Stderr.Trim());
    }

    [Fact]
    public void A_truncated_shard_fails_naming_it()
    {
        var shards = RunShards(2);
        var bytes = File.ReadAllBytes(shards[0]);
        File.WriteAllBytes(shards[0], bytes[..^30]);

        var r = ClassifyProcess.Run(["merge", "--output", _dir.File("merged.jsonl"), .. shards]);

        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.Equal($"classify: {shards[0]}: truncated: its last line has no end (its task was killed while writing it?)\n", r.Stderr);
    }

    [Fact]
    public void An_emptied_shard_or_one_cut_at_a_line_end_fails_naming_it()
    {
        // The issue's cases, which merged with exit 0 before shards carried their trailer: an emptied shard's images
        // vanished, and a shard cut after a whole record lost the records after it.
        var shards = RunShards(2);
        File.WriteAllBytes(shards[1], []);
        var merged = _dir.File("merged.jsonl");
        var r = ClassifyProcess.Run(["merge", "--output", merged, .. shards]);
        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.Equal($"classify: {shards[1]}: is empty: a finished shard holds at least its trailer line (did its task end before writing it?)\n", r.Stderr);

        shards = RunShards(2);
        var lines = File.ReadAllLines(shards[0]);
        File.WriteAllLines(shards[0], [lines[0], lines[^1]]);
        r = ClassifyProcess.Run(["merge", "--output", merged, .. shards]);
        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.StartsWith($"classify: {shards[0]}: holds 1 records, but its trailer says 2", r.Stderr);
        Assert.False(File.Exists(merged));
    }

    [Fact]
    public void Another_splits_shard_under_the_right_name_fails()
    {
        // Shard 1 of 2 of a run over other photos, copied over this run's shard 1.
        var shards = RunShards(2);
        var other = ClassifyProcess.Run("--shard", "1/2", "--format", "jsonl", "--output", shards[1],
            TestData.Chelsea, TestData.Coffee, Path.Combine(TestData.Images, "rocket.jpg"));
        Assert.Equal(0, other.ExitCode);
        var r = ClassifyProcess.Run(["merge", "--output", _dir.File("merged.jsonl"), .. shards]);
        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.Equal($"classify: {shards[1]}: is shard 1 of 2 of a split of 3 inputs (top 5), but {shards[0]} is shard 0 of 2 of a split of 4 inputs (top 5): shards of different runs\n", r.Stderr);
    }

    [Fact]
    public void Merge_into_csv_equals_a_csv_run()
    {
        var single = ClassifyProcess.Run("--image_dir", TestData.Images, "--format", "csv", "-m", TestData.SqueezeNet).StdoutLines;
        var merged = _dir.File("merged.csv");

        var r = ClassifyProcess.Run(["merge", "--format", "csv", "--output", merged, .. RunShards(2)]);

        Assert.Equal(0, r.ExitCode);
        // The shards' six decimals are csv's six: the merged rows are the single run's, digit for digit.
        Assert.Equal(single, File.ReadAllLines(merged));
        var made = $"{TestData.SqueezeNet},{ClassifyCommandTests.ManifestSha256(TestData.SqueezeNet, "onnx")},{ClassifyCommandTests.ResultVersion()}";
        Assert.Contains($"{TestData.Chelsea},1,Egyptian cat,285,", single[1..].First(l => l.StartsWith(TestData.Chelsea, StringComparison.Ordinal)));
        Assert.EndsWith($",,,,n02124075,{made}", single[1..].First(l => l.StartsWith(TestData.Chelsea, StringComparison.Ordinal)));
    }

    [Fact]
    public void Merge_into_json_equals_a_json_run()
    {
        var single = ClassifyProcess.Run("--image_dir", TestData.Images, "--format", "json", "-m", TestData.SqueezeNet).Stdout;
        var merged = _dir.File("merged.json");

        Assert.Equal(0, ClassifyProcess.Run(["merge", "--format", "json", "--output", merged, .. RunShards(2)]).ExitCode);

        // Backend and device come from the shards' trailers.
        Assert.Equal(single, File.ReadAllText(merged));
        Assert.Contains($"\"model_sha256\": \"{ClassifyCommandTests.ManifestSha256(TestData.SqueezeNet, "onnx")}\"", single);
    }

    [Fact]
    public void Shards_that_ran_another_file_of_the_same_model_are_refused_with_exit_30()
    {
        // Shard 1 ran squeezenet1.1's fp16 file: the same model name, another model_sha256.
        var shards = RunShards(2);
        File.Delete(shards[1]);
        var fp16 = ClassifyProcess.Run(["--image_dir", TestData.Images, "--format", "jsonl", "--model", Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), "squeezenet1.1-fp16.onnx"),
            "--shard", "1/2", "--output", shards[1]]);
        Assert.Equal(0, fp16.ExitCode);
        var merged = _dir.File("merged.jsonl");

        var r = ClassifyProcess.Run(["merge", "--output", merged, .. shards]);

        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.StartsWith($"classify: {shards[1]}: line 1 was made by model {TestData.SqueezeNet} (model_sha256 {ClassifyCommandTests.ManifestSha256(TestData.SqueezeNet, "onnx-fp16")}, classify ", r.Stderr);
        Assert.Contains($"but {shards[0]} by model {TestData.SqueezeNet} (model_sha256 {ClassifyCommandTests.ManifestSha256(TestData.SqueezeNet, "onnx")}", r.Stderr);
        Assert.False(File.Exists(merged));
    }

    [Fact]
    public void Shards_are_merged_in_the_order_their_names_give_not_the_order_of_the_arguments()
    {
        // Twelve inputs, one per shard, named as srun's unpadded $SLURM_PROCID names them: a sorted glob puts
        // shard-10 and shard-11 before shard-2.
        var list = _dir.File("twelve.txt");
        var images = Directory.GetFiles(TestData.Images).Where(f => f.EndsWith(".png", StringComparison.Ordinal) || f.EndsWith(".jpg", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        File.WriteAllLines(list, Enumerable.Range(0, 12).Select(i => images[i % images.Length]));
        var single = _dir.File("single.jsonl");
        Assert.Equal(0, ClassifyProcess.Run("--image_list", list, "--output", single).ExitCode);
        var lines = File.ReadAllLines(single);
        Assert.Equal(12, lines.Length);
        var shards = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var r = ClassifyProcess.Run("--image_list", list, "--shard", $"{i}/12", "--output", _dir.File($"r.shard-{i}-of-12.jsonl"));
            Assert.Equal(0, r.ExitCode);
            shards.Add(_dir.File($"r.shard-{i}-of-12.jsonl"));
        }
        var globbed = shards.Order(StringComparer.Ordinal).ToList();
        Assert.NotEqual(shards, globbed);

        foreach (var order in new[] { globbed, Enumerable.Reverse(shards).ToList() })
        {
            var merged = _dir.File("merged.jsonl");
            var r = ClassifyProcess.Run(["merge", "--output", merged, .. order]);
            Assert.Equal(0, r.ExitCode);
            Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(merged));
        }
    }

    [Fact]
    public void A_shard_given_twice_is_refused()
    {
        var shards = RunShards(2);
        var merged = _dir.File("merged.jsonl");

        var r = ClassifyProcess.Run(["merge", "--output", merged, shards[0], shards[1], Path.Combine(_dir.Path, ".", Path.GetFileName(shards[1]))]);

        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.Equal($"classify: {Path.Combine(_dir.Path, ".", Path.GetFileName(shards[1]))}: is given twice (also as {shards[1]}): its images would be merged twice\n", r.Stderr);
        Assert.False(File.Exists(merged));

        // Without shard names too (the order is then the arguments').
        File.Copy(shards[0], _dir.File("a.jsonl"));
        r = ClassifyProcess.Run("merge", "--output", merged, _dir.File("a.jsonl"), _dir.File("a.jsonl"));
        Assert.Equal(ExitCode.ShardInvalid, r.ExitCode);
        Assert.Contains("is given twice", r.Stderr);
    }

    [Fact]
    public void Shard_in_the_output_name_becomes_the_zero_padded_shard_and_merges_back()
    {
        var single = _dir.File("single.jsonl");
        Assert.Equal(0, ClassifyProcess.Run([.. Folder, "--output", single]).ExitCode);
        for (var i = 0; i < 3; i++)
            Assert.Equal(0, ClassifyProcess.Run([.. Folder, "--shard", $"{i}/3", "--output", _dir.File("results.{shard}.jsonl")]).ExitCode);

        var names = Directory.GetFiles(_dir.Path, "results.*").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(["results.shard-0000-of-0003.jsonl", "results.shard-0001-of-0003.jsonl", "results.shard-0002-of-0003.jsonl"], names);
        var merged = _dir.File("merged.jsonl");
        Assert.Equal(0, ClassifyProcess.Run(["merge", "-o", merged, .. Directory.GetFiles(_dir.Path, "results.shard-*")]).ExitCode);
        Assert.Equal(File.ReadAllBytes(single), File.ReadAllBytes(merged));
    }

    [Fact]
    public void Merge_without_shard_files_is_a_usage_error()
    {
        var r = ClassifyProcess.Run("merge", "--output", _dir.File("merged.jsonl"));
        Assert.Equal(ExitCode.Usage, r.ExitCode);
    }
}
