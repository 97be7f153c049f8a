using System.Diagnostics;

namespace Classify.Tests;

/// <summary>Slurm's time limit sends SIGTERM, then SIGKILL: the real binary must stop within seconds even while it is
/// inside a native decoder, keep what it finished in the journal, and resume from it.</summary>
public sealed class SignalTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Sigterm_while_decoding_large_photos_stops_within_seconds_with_the_journal_intact()
    {
        // Eight 9000x6000 progressive JPEGs: libjpeg-turbo takes about a second each here and cannot be interrupted.
        var photos = Path.Combine(_dir.Path, "big");
        Directory.CreateDirectory(photos);
        using var make = Process.Start("/usr/bin/python3", ["-c",
            "import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB').resize((9000, 6000)); " +
            "[im.save(f'{sys.argv[2]}/b{i}.jpg', quality=90, progressive=True) for i in range(8)]", TestData.Chelsea, photos]);
        await make.WaitForExitAsync();
        Assert.Equal(0, make.ExitCode);
        var output = _dir.File("big.jsonl");
        string[] args = ["--image_dir", photos, "--format", "jsonl", "--output", output, "--batch_size", "1"];

        var start = new ProcessStartInfo(ClassifyProcess.Executable) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var run = Process.Start(start)!;
        var stderr = run.StandardError.ReadToEndAsync();
        // Until the journal holds a finished image (its header is line 1).
        var journal = output + ".partial";
        var waited = Stopwatch.StartNew();
        while (!(File.Exists(journal) && File.ReadAllLines(journal).Length >= 2) && waited.Elapsed < TimeSpan.FromSeconds(60))
            await Task.Delay(50);
        Assert.False(run.HasExited, "the run ended before it could be interrupted");

        var signalled = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync();
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await run.WaitForExitAsync(limit.Token);
        Assert.True(signalled.Elapsed < TimeSpan.FromSeconds(5), $"exited {signalled.Elapsed.TotalSeconds:F1} s after SIGTERM");
        Assert.Equal(ExitCode.Cancelled, run.ExitCode);
        Assert.Contains("was not written", await stderr);
        Assert.False(File.Exists(output));
        var kept = File.ReadAllLines(journal);
        Assert.InRange(kept.Length - 1, 1, 7);
        Assert.All(kept, l => System.Text.Json.JsonDocument.Parse(l).Dispose());

        var resumed = ClassifyProcess.Run([.. args, "--verbose"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains($"resuming: {kept.Length - 1} of 8 images already done", resumed.Stderr);
        Assert.Equal(8, File.ReadAllLines(output).Length);
    }
}
