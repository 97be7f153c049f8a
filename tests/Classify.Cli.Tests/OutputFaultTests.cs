using System.Diagnostics;

namespace Classify.Tests;

/// <summary>
/// Faults an operator meets on the output side, through the real binary (the installed Native AOT one under
/// install-test.sh): a reader of standard output that goes away, /dev/full, two runs on one --output, merge into one of
/// its own shards, and standard output in a Latin-1 locale. Full disks on a small tmpfs, EMFILE and EACCES are in
/// scripts/ci/fault-test.sh, which needs root to mount and to run as another user.
/// </summary>
public sealed class OutputFaultTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A folder of <paramref name="count"/> copies of the cat.</summary>
    private string Cats(int count)
    {
        var folder = Path.Combine(_dir.Path, $"cats{count}");
        Directory.CreateDirectory(folder);
        for (var i = 0; i < count; i++)
            File.Copy(TestData.Chelsea, Path.Combine(folder, $"c{i:D4}.png"));
        return folder;
    }

    [Fact]
    public async Task A_reader_of_standard_output_that_goes_away_stops_the_run_with_exit_14()
    {
        // classify DIR -f jsonl | head -1: the pipe closes after the first line; the run must not go on, and must not
        // report success.
        var start = new ProcessStartInfo(ClassifyProcess.Executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Cats(60), "--format", "jsonl", "--batch_size", "1", "--threads", "1" }) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.StartsWith("{\"file\":", p.StandardOutput.ReadLine());
        p.StandardOutput.Close();
        Assert.True(p.WaitForExit(60_000));
        Assert.Equal(ExitCode.OutputFailed, p.ExitCode);
        Assert.Equal("classify: standard output was closed by its reader (broken pipe): the run stopped; write to a file with --output FILE to keep every result\n",
            await stderr);
    }

    [Theory]
    [InlineData("--format csv > /dev/full", "classify: standard output: no space left on device")]
    [InlineData("--format csv --output /dev/full", "classify: /dev/full: cannot write: no space left on device")]
    public void Writing_to_dev_full_is_exit_14_with_one_line(string redirect, string expected)
    {
        var (code, _, stderr) = ClassifyProcess.RunScript($"exec \"$CLASSIFY\" --image_dir '{TestData.Images}' {redirect}", _dir.Path);
        Assert.Equal(ExitCode.OutputFailed, code);
        Assert.Equal(expected + "\n", stderr);
    }

    [Fact]
    public async Task A_second_run_on_the_same_output_refuses_and_the_first_completes()
    {
        var cats = Cats(150);
        var output = _dir.File("out.jsonl");
        var start = new ProcessStartInfo(ClassifyProcess.Executable) { RedirectStandardError = true };
        foreach (var a in new[] { cats, "--output", output, "--batch_size", "1", "--threads", "1" }) start.ArgumentList.Add(a);
        using var first = Process.Start(start)!;
        var firstErr = first.StandardError.ReadToEndAsync();
        var waited = Stopwatch.StartNew();
        while (!File.Exists(output + ".partial") && waited.Elapsed < TimeSpan.FromSeconds(60))
            Thread.Sleep(20);

        var second = ClassifyProcess.Run([cats, "--output", output]);

        Assert.False(first.HasExited, "the first run ended before the second started");
        Assert.Equal(ExitCode.OutputFailed, second.ExitCode);
        // The process as /proc names it: the installed launcher execs classify-app under the same id.
        Assert.Matches($@"^classify: {System.Text.RegularExpressions.Regex.Escape(output)}: another classify run \(process {first.Id}, classify(-app)?\) is writing this output and holds its resume journal {System.Text.RegularExpressions.Regex.Escape(output)}\.partial; wait for it to end, or choose another --output\n$",
            second.Stderr);
        Assert.True(first.WaitForExit(120_000));
        Assert.Equal(0, first.ExitCode);
        Assert.Equal("", await firstErr);
        Assert.Equal(150, File.ReadAllLines(output).Length);
        Assert.False(File.Exists(output + ".partial"));
    }

    [Fact]
    public void A_rerun_after_the_first_run_ended_is_not_locked_out()
    {
        // The kernel drops the lock with the process, however it ends: a journal left by a killed run is resumed.
        var cats = Cats(3);
        var output = _dir.File("out.jsonl");
        Assert.Equal(0, ClassifyProcess.Run([cats, "--output", output]).ExitCode);
        var again = ClassifyProcess.Run([cats, "--output", output]);
        Assert.Equal(0, again.ExitCode);
        Assert.Equal("", again.Stderr);
    }

    private (string A, string B) Shards()
    {
        var a = _dir.File("r.shard-0.jsonl");
        var b = _dir.File("r.shard-1.jsonl");
        Assert.Equal(0, ClassifyProcess.Run(["--image_dir", TestData.Images, "--shard", "0/2", "--output", a]).ExitCode);
        Assert.Equal(0, ClassifyProcess.Run(["--image_dir", TestData.Images, "--shard", "1/2", "--output", b]).ExitCode);
        return (a, b);
    }

    [Fact]
    public void Merge_refuses_an_output_that_is_one_of_its_shards_by_name_or_by_hard_link()
    {
        var (a, b) = Shards();
        var before = File.ReadAllBytes(a);
        var same = ClassifyProcess.Run(["merge", "--output", a, a, b]);
        Assert.Equal(ExitCode.Usage, same.ExitCode);
        Assert.Equal($"classify: {a}: --output is the shard {a} given to merge: the merge would overwrite it; write the merged file elsewhere\n", same.Stderr);

        var link = _dir.File("link.jsonl");
        using (var ln = Process.Start("ln", [a, link])!) ln.WaitForExit();
        Assert.Equal(ExitCode.Usage, ClassifyProcess.Run(["merge", "--output", link, a, b]).ExitCode);
        Assert.Equal(before, File.ReadAllBytes(a));
    }

    [Fact]
    public void Merge_takes_the_format_from_the_extension_refuses_contradictions_and_writes_dash_to_standard_output()
    {
        var (a, b) = Shards();
        var jsonl = ClassifyProcess.Run(["--image_dir", TestData.Images, "--format", "jsonl"]).Stdout;
        var csv = ClassifyProcess.Run(["--image_dir", TestData.Images, "--format", "csv"]).Stdout;

        Assert.Equal(0, ClassifyProcess.Run(["merge", "--output", _dir.File("all.csv"), a, b]).ExitCode);
        Assert.Equal(csv, File.ReadAllText(_dir.File("all.csv")));

        var contradiction = ClassifyProcess.Run(["merge", "--format", "csv", "--output", _dir.File("x.jsonl"), a, b]);
        Assert.Equal(ExitCode.Usage, contradiction.ExitCode);
        Assert.False(File.Exists(_dir.File("x.jsonl")));

        var dash = ClassifyProcess.Run(["merge", "--output", "-", a, b], workingDirectory: _dir.Path);
        Assert.Equal(0, dash.ExitCode);
        Assert.Equal(jsonl, dash.Stdout);
        Assert.False(File.Exists(_dir.File("-")));
    }

    [Theory]
    [InlineData("csv")]
    [InlineData("text")]
    public void Standard_output_has_the_bytes_of_an_output_file_in_a_Latin1_locale(string format)
    {
        // In an ISO-8859-1 locale .NET's Console.Out re-encodes: "猫" became "?" on standard output only.
        var folder = Path.Combine(_dir.Path, "names");
        Directory.CreateDirectory(folder);
        File.Copy(TestData.Chelsea, Path.Combine(folder, "café-猫.png"));
        File.Copy(TestData.Coffee, Path.Combine(folder, "coffee.png")); // two images: text names each
        var latin1 = new Dictionary<string, string?> { ["LC_ALL"] = "en_US.ISO-8859-1", ["LANG"] = "en_US.ISO-8859-1" };
        var output = _dir.File($"out.{(format == "text" ? "txt" : format)}");

        var toFile = ClassifyProcess.Run([folder, "--format", format, "--output", output], env: latin1);
        var toStdout = ClassifyProcess.Run([folder, "--format", format], env: latin1);

        Assert.Equal((0, 0), (toFile.ExitCode, toStdout.ExitCode));
        Assert.Contains("café-猫.png", toStdout.Stdout);
        Assert.Equal(File.ReadAllBytes(output), System.Text.Encoding.UTF8.GetBytes(toStdout.Stdout));
    }
}
