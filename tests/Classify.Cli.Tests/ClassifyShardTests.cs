using Classify.Cli;

namespace Classify.Tests;

/// <summary>The classify verb's --shard, its default from Slurm's variables, and resuming with --output.</summary>
public sealed class ClassifyShardTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Folder = ["--image_dir", TestData.Images, "--format", "jsonl"];

    // What Slurm 22.05 sets in task 1 of sbatch --array=0-1 (seen on the CI cluster).
    private static readonly Dictionary<string, string?> ArrayTask1 = new()
    {
        ["SLURM_ARRAY_JOB_ID"] = "7", ["SLURM_ARRAY_TASK_ID"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "2",
        ["SLURM_ARRAY_TASK_MIN"] = "0", ["SLURM_ARRAY_TASK_MAX"] = "1", ["SLURM_ARRAY_TASK_STEP"] = "1",
    };

    [Fact]
    public void Two_shards_together_classify_each_image_once_in_order()
    {
        var all = ClassifyProcess.Run(Folder);
        var first = ClassifyProcess.Run([.. Folder, "--shard", "0/2"]);
        var second = ClassifyProcess.Run([.. Folder, "--shard", "1/2"]);

        // Each shard's records, then its trailer (ShardTrailer): the records are the single run's with unrounded scores.
        Assert.Equal(4, all.StdoutLines.Length);
        Assert.Equal(3, first.StdoutLines.Length);
        Assert.StartsWith("{\"classify_shard\":{\"index\":1,\"count\":2,\"records\":2,", second.StdoutLines[^1]);
        Assert.Equal(all.StdoutLines.Select(FileOf), [.. first.StdoutLines[..^1].Select(FileOf), .. second.StdoutLines[..^1].Select(FileOf)]);
    }

    private static string FileOf(string line) => System.Text.Json.JsonDocument.Parse(line).RootElement.GetProperty("file").GetString()!;

    [Fact]
    public void A_shards_scores_are_unrounded_and_round_to_the_single_runs()
    {
        var all = ClassifyProcess.Run(Folder).StdoutLines;
        var shard = ClassifyProcess.Run([.. Folder, "--shard", "0/1"]).StdoutLines;
        Assert.Equal(all.Length + 1, shard.Length);
        for (var i = 0; i < all.Length; i++)
        {
            var one = System.Text.Json.JsonDocument.Parse(all[i]).RootElement.GetProperty("predictions")[0].GetProperty("score");
            var exact = System.Text.Json.JsonDocument.Parse(shard[i]).RootElement.GetProperty("predictions")[0].GetProperty("score");
            Assert.Equal(one.GetRawText(), ((double)exact.GetSingle()).ToString("F6", System.Globalization.CultureInfo.InvariantCulture));
            Assert.NotEqual(one.GetRawText(), exact.GetRawText());
        }
    }

    [Fact]
    public void An_array_task_takes_its_shard_from_Slurm_and_says_so()
    {
        var explicitShard = ClassifyProcess.Run([.. Folder, "--shard", "1/2"]);
        var fromSlurm = ClassifyProcess.Run(Folder, env: ArrayTask1);

        Assert.Equal(0, fromSlurm.ExitCode);
        Assert.Equal(explicitShard.Stdout, fromSlurm.Stdout);
        Assert.Equal("classify: shard 1/2 from Slurm's environment: images 3-4 of 4 (--shard 0/1 classifies all)\n", fromSlurm.Stderr);
    }

    [Fact]
    public void Array_tasks_sharing_one_output_each_write_their_own_tagged_file_that_merge_joins()
    {
        // Every task of sbatch --array=0-1 runs the same command line: one --output must not keep only the last task's.
        var output = _dir.File("arr.jsonl");
        var task0 = ClassifyProcess.Run([.. Folder, "--output", output], env: new Dictionary<string, string?>(ArrayTask1) { ["SLURM_ARRAY_TASK_ID"] = "0" });
        var task1 = ClassifyProcess.Run([.. Folder, "--output", output], env: ArrayTask1);

        Assert.Equal((0, 0), (task0.ExitCode, task1.ExitCode));
        Assert.False(File.Exists(output));
        Assert.EndsWith($"; results to {_dir.File("arr.shard-0001-of-0002.jsonl")}\n", task1.Stderr);
        var merged = _dir.File("merged.jsonl");
        var merge = ClassifyProcess.Run(["merge", "--output", merged, _dir.File("arr.shard-0000-of-0002.jsonl"), _dir.File("arr.shard-0001-of-0002.jsonl")]);
        Assert.Equal(0, merge.ExitCode);
        Assert.Equal(ClassifyProcess.Run(Folder).Stdout, File.ReadAllText(merged));
    }

    [Fact]
    public void An_explicit_shard_overrides_Slurm()
    {
        var r = ClassifyProcess.Run([.. Folder, "--shard", "0/1"], env: ArrayTask1);
        Assert.Equal(5, r.StdoutLines.Length); // all four images and the shard trailer
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void A_bad_shard_is_a_one_line_usage_error()
    {
        var r = ClassifyProcess.Run([.. Folder, "--shard", "2/2"]);
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal("classify: --shard 2/2: expected I/N with 0 <= I < N, e.g. --shard 0/4 for the first of four shards\n", r.Stderr);
    }

    /// <summary>Cancels the run when the first per-image error is reported, i.e. after the first batch.</summary>
    private sealed class CancelOnWrite(CancellationTokenSource cancel) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            cancel.Cancel();
        }
    }

    [Fact]
    public void A_run_cancelled_midway_resumes_where_it_stopped_and_ends_as_an_uninterrupted_run()
    {
        // A broken image first, batches of one: the error line is the moment to "kill" the job, with exactly
        // one result in the journal. In-process, so that the interruption falls on the same image every time.
        var broken = _dir.File("0-broken.png");
        File.WriteAllBytes(broken, File.ReadAllBytes(TestData.Chelsea)[..3000]);
        string[] args = ["--image_file", broken, "--image_dir", TestData.Images, "--format", "csv",
            "--batch_size", "1", "--shard", "0/1", "--output", _dir.File("out.csv")];
        var expected = ClassifyProcess.Run([.. args[..^2], "--output", _dir.File("expected.csv")]);
        Assert.Equal(ExitCode.SomeImagesFailed, expected.ExitCode);

        using var cancel = new CancellationTokenSource();
        var stderr = new CancelOnWrite(cancel);
        var interrupted = Program.Run(args, new Cli.RunContext(TextReader.Null, new StringWriter(), stderr), cancel.Token);
        Assert.Equal(ExitCode.Cancelled, interrupted);
        // What was kept, and how to go on.
        Assert.Equal($"classify: cancelled after 1 of 5 images: {_dir.File("out.csv")} was not written; {_dir.File("out.csv.partial")} keeps the 1 finished, and the same command run again resumes after them",
            stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        Assert.False(File.Exists(_dir.File("out.csv")));
        Assert.Equal(2, File.ReadAllLines(_dir.File("out.csv.partial")).Length);

        var resumed = ClassifyProcess.Run([.. args, "--verbose"]);
        Assert.Equal(ExitCode.SomeImagesFailed, resumed.ExitCode);
        Assert.Contains("resuming: 1 of 5 images already done", resumed.Stderr);
        // The resumed image is counted as such, not as classified by this run.
        Assert.Matches(@"classify: 5 images: 4 classified now, 1 resumed from the journal, 1 failed, in \d+\.\d\d s \(\d+\.\d img/s\); decode [0-9.]+ s on \d+ threads?, model [0-9.]+ s, output [0-9.]+ s: (decoding|the model) was the bottleneck", resumed.Stderr);
        Assert.Equal(File.ReadAllText(_dir.File("expected.csv")), File.ReadAllText(_dir.File("out.csv")));
        Assert.False(File.Exists(_dir.File("out.csv.partial")));
    }

    [Fact]
    public void A_forged_record_in_a_journal_is_not_replayed()
    {
        // A real journal (the run killed after its first image, a broken one), whose error record is then replaced by
        // an invented result: an Egyptian cat's class under another name. The rerun classifies that image again.
        var broken = _dir.File("0-broken.png");
        File.WriteAllBytes(broken, File.ReadAllBytes(TestData.Chelsea)[..3000]);
        string[] args = ["--image_file", broken, "--image_dir", TestData.Images, "--batch_size", "1", "--output", _dir.File("out.jsonl")];
        var expected = ClassifyProcess.Run([.. args[..^2], "--output", _dir.File("expected.jsonl")]);
        using var cancel = new CancellationTokenSource();
        Assert.Equal(ExitCode.Cancelled, Program.Run(args, new Cli.RunContext(TextReader.Null, new StringWriter(), new CancelOnWrite(cancel)), cancel.Token));
        var partial = _dir.File("out.jsonl.partial");
        var lines = File.ReadAllLines(partial);
        Assert.Equal(2, lines.Length);
        var prediction = "{\"label\":\"Persian cat\",\"synset\":\"n02124075\",\"class\":285,\"score\":0.9}";
        lines[1] = $"{{\"file\":{System.Text.Json.JsonSerializer.Serialize(broken)},\"predictions\":[{string.Join(",", Enumerable.Repeat(prediction, 5))}]}}";
        File.WriteAllLines(partial, lines);

        var rerun = ClassifyProcess.Run(args);
        Assert.Equal(ExitCode.SomeImagesFailed, rerun.ExitCode);
        Assert.Contains($"classify: {partial}: record 1 does not fit this run: class 285 is not named 'Persian cat' (n02124075) by the model's labels; resuming only the 0 before it\n", rerun.Stderr);
        Assert.Equal(File.ReadAllText(_dir.File("expected.jsonl")), File.ReadAllText(_dir.File("out.jsonl")));
    }

    [Fact]
    public void A_file_that_timed_out_is_replayed_from_the_journal_not_decoded_again()
    {
        // A 13000x13000 16-bit RGBA PNG of zero rows: over a second to inflate and decode, past a 0.5 s deadline on
        // every run. The run is cancelled once its timeout is reported; the rerun replays the timeout record.
        var slow = _dir.File("0-slow.png");
        File.WriteAllBytes(slow, TestPng.ZeroRows(13000, 13000, depth: 16, color: 6));
        string[] args = ["--image_file", slow, "--image_file", TestData.Chelsea, "--batch_size", "1", "--decode_timeout", "0.5",
            "--format", "jsonl", "--output", _dir.File("out.jsonl")];
        using var cancel = new CancellationTokenSource();
        var stderr = new CancelOnWrite(cancel);
        Assert.Equal(ExitCode.Cancelled, Program.Run(args, new Cli.RunContext(TextReader.Null, new StringWriter(), stderr), cancel.Token));
        Assert.StartsWith($"classify: {slow}: decoding PNG took over 0.5 s (--decode_timeout)", stderr.ToString());

        var rerun = ClassifyProcess.Run([.. args, "--verbose"]);
        Assert.Equal(ExitCode.SomeImagesFailed, rerun.ExitCode);
        Assert.Contains("resuming: 1 of 2 images already done", rerun.Stderr);
        Assert.DoesNotContain("decoding PNG took", rerun.Stderr);
        var records = File.ReadAllLines(_dir.File("out.jsonl"));
        Assert.Contains("\"kind\":\"ImageTimeout\"", records[0]);
        Assert.Contains("Egyptian cat", records[1]);
    }

    [Fact]
    public void A_journal_of_other_settings_is_not_resumed()
    {
        var output = _dir.File("out.jsonl");
        File.WriteAllText(output + ".partial", "{\"classify_journal\":1,\"fingerprint\":\"another run\"}\n{\"file\":\"x.png\",\"predictions\":[]}\n");

        var r = ClassifyProcess.Run([.. Folder, "--output", output]);

        Assert.Equal(0, r.ExitCode);
        Assert.Contains("starting over", r.Stderr);
        Assert.Equal(ClassifyProcess.Run(Folder).Stdout, File.ReadAllText(output));
    }

    [Fact]
    public async Task A_journal_planted_as_a_symbolic_link_is_refused_and_its_target_left_alone()
    {
        // On a shared scratch folder another user can create results.jsonl.partial as a link to a file of yours.
        var victim = _dir.File("victim.txt");
        File.WriteAllText(victim, "precious\n");
        var output = _dir.File("results.jsonl");
        File.CreateSymbolicLink(output + ".partial", victim);

        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--output", output);

        Assert.Equal(ExitCode.OutputFailed, r.ExitCode);
        Assert.Equal($"classify: {output}.partial: is a symbolic link: classify does not write its resume journal through one (it could overwrite another file); remove it, or choose another --output", r.Stderr.Trim());
        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.False(File.Exists(output));

        // A FIFO in its place is refused as well, without blocking.
        File.Delete(output + ".partial");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [output + ".partial"])!)
            await mkfifo.WaitForExitAsync();
        var fifo = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--output", output);
        Assert.Equal(ExitCode.OutputFailed, fifo.ExitCode);
        Assert.Contains("is not a regular file", fifo.Stderr);
    }
}
