using System.Diagnostics;

namespace Classify.Tests;

/// <summary>Slurm's time limit sends SIGTERM, then SIGKILL: the real binary must stop within seconds even while it is
/// inside a native decoder, keep what it finished in the journal, and resume from it.</summary>
public sealed class SignalTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>How many photos each test's run gets (<see cref="InterruptedRun.BigPhotos"/>): enough that it is still
    /// decoding seconds after the records a test waits for, on any machine.</summary>
    private const int Photos = 32;

    private static Task<string> BigPhotos(string folder, int width = 9000, int height = 6000) =>
        InterruptedRun.BigPhotos(folder, Photos, width, height);

    /// <summary>Starts classify, waits until its journal holds <paramref name="records"/> results, sends SIGTERM and
    /// returns how long it took to exit, its exit code, its stderr and the journal's lines.</summary>
    private static async Task<(TimeSpan Took, int ExitCode, string Stderr, string[] Journal)> Interrupt(string[] args, string output, int records,
        IDictionary<string, string>? env = null)
    {
        var (started, stderr) = await InterruptedRun.StartUntilJournaled(args, output, records, env);
        using var run = started;
        var signalled = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
            await kill.WaitForExitAsync();
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            await run.WaitForExitAsync(limit.Token);
        return (signalled.Elapsed, run.ExitCode, await stderr, File.ReadAllLines(output + ".partial"));
    }

    [Fact]
    public async Task Hostile_files_hang_nothing_and_their_errors_are_replayed_not_retried()
    {
        // The cases: an interlaced PNG whose zlib data ends before its last row (IEND present; it used to make
        // the decoder spin for ever with SIGTERM ignored) and a FIFO; then the big photos, during which the run is
        // stopped. Each hostile file is an error of its own kind in the journal, and the rerun replays those records
        // instead of reading the files again.
        var endless = _dir.File("endless.png");
        using (var make = Process.Start("/usr/bin/python3", ["-c",
            "import sys, zlib, struct\n" +
            "def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))\n" +
            "import random; random.seed(16); data = zlib.compress(bytes(random.getrandbits(8) for _ in range(64 * 3 * 64 + 64 * 2)))\n" +
            "rows = data[:len(data) // 2]\n" +
            "open(sys.argv[1], 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 64, 64, 8, 2, 0, 0, 1)) + chunk(b'IDAT', rows) + chunk(b'IEND', b''))",
            endless])!)
        {
            await make.WaitForExitAsync();
            Assert.Equal(0, make.ExitCode);
        }
        var fifo = _dir.File("pipe.png");
        using (var mk = Process.Start("mkfifo", [fifo])!) await mk.WaitForExitAsync();
        var photos = await BigPhotos(Path.Combine(_dir.Path, "big"));
        var output = _dir.File("out.jsonl");
        string[] args = ["--image_file", endless, "--image_file", fifo, "--image_dir", photos,
            "--format", "jsonl", "--output", output, "--batch_size", "1"];

        var (took, code, stderr, journal) = await Interrupt(args, output, records: 3);

        Assert.True(took < TimeSpan.FromSeconds(5), $"exited {took.TotalSeconds:F1} s after SIGTERM");
        Assert.Equal(ExitCode.Cancelled, code);
        Assert.Contains("was not written", stderr);
        var kinds = journal[1..3].Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("error").GetProperty("kind").GetString());
        Assert.Equal(["ImageCorrupt", "ImageUnsupported"], kinds);

        var resumed = ClassifyProcess.Run([.. args, "--verbose"]);
        Assert.Equal(ExitCode.SomeImagesFailed, resumed.ExitCode);
        Assert.Contains($"resuming: {journal.Length - 1} of {Photos + 2} images already done", resumed.Stderr);
        // Replayed, not read again: no error line for either on this run's stderr.
        Assert.DoesNotContain("endless.png", resumed.Stderr);
        Assert.Equal(Photos + 2, File.ReadAllLines(output).Length);
    }

    [Fact]
    public async Task Sigterm_while_decoding_large_photos_stops_within_seconds_with_the_journal_intact()
    {
        var photos = await BigPhotos(Path.Combine(_dir.Path, "big"));
        var output = _dir.File("big.jsonl");
        string[] args = ["--image_dir", photos, "--format", "jsonl", "--output", output, "--batch_size", "1"];

        var (took, code, stderr, kept) = await Interrupt(args, output, records: 1);

        Assert.True(took < TimeSpan.FromSeconds(5), $"exited {took.TotalSeconds:F1} s after SIGTERM");
        Assert.Equal(ExitCode.Cancelled, code);
        Assert.Contains("was not written", stderr);
        Assert.False(File.Exists(output));
        Assert.InRange(kept.Length - 1, 1, Photos - 1);
        Assert.All(kept, l => System.Text.Json.JsonDocument.Parse(l).Dispose());

        var resumed = ClassifyProcess.Run([.. args, "--verbose"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains($"resuming: {kept.Length - 1} of {Photos} images already done", resumed.Stderr);
        Assert.Equal(Photos, File.ReadAllLines(output).Length);
    }

    [Fact]
    public async Task Decodes_that_cannot_be_stopped_are_journaled_as_timeouts_and_replayed_after_sigterm()
    {
        // The case: PngSuite's four tiny interlaced PNGs, on which ImageSharp's PNG decoder (CLASSIFY_LIBSPNG=off)
        // spins for ever, then the big photos, during which Slurm's SIGTERM comes. The four are timeouts in the journal
        // (the watchdog left their threads behind), the run still stops within seconds, and the rerun replays them.
        var suite = Path.Combine(TestData.RepoRoot, "tests", "conformance", "pngsuite");
        // Photos of 4500x3000, well within the 2 s deadline (the four spinning threads share the cores with them).
        var photos = await BigPhotos(Path.Combine(_dir.Path, "big"), 4500, 3000);
        var output = _dir.File("out.jsonl");
        string[] args = [.. new[] { "s01i3p01.png", "s02i3p01.png", "s03i3p01.png", "s04i3p01.png" }.Select(n => Path.Combine(suite, n)),
            "--image_dir", photos, "--format", "jsonl", "--output", output, "--batch_size", "1", "--decode_timeout", "2", "--threads", "2"];
        var imageSharp = new Dictionary<string, string> { ["CLASSIFY_LIBSPNG"] = "off" };

        var (took, code, stderr, journal) = await Interrupt(args, output, records: 5, imageSharp);

        Assert.True(took < TimeSpan.FromSeconds(5), $"exited {took.TotalSeconds:F1} s after SIGTERM");
        Assert.Equal(ExitCode.Cancelled, code);
        Assert.Contains("was not written", stderr);
        var kinds = journal[1..5].Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("error").GetProperty("kind").GetString());
        Assert.Equal(["ImageTimeout", "ImageTimeout", "ImageTimeout", "ImageTimeout"], kinds);

        var resumed = ClassifyProcess.Run([.. args, "--verbose"], env: imageSharp.ToDictionary(e => e.Key, e => (string?)e.Value));
        Assert.Equal(ExitCode.SomeImagesFailed, resumed.ExitCode);
        Assert.Contains($"resuming: {journal.Length - 1} of {Photos + 4} images already done", resumed.Stderr);
        // Replayed, not decoded again: no timeout on this run's stderr.
        Assert.DoesNotContain("decode_timeout)", resumed.Stderr);
        Assert.Equal(Photos + 4, File.ReadAllLines(output).Length);
    }

    [Fact]
    public async Task A_journal_of_a_full_decode_run_is_not_resumed_by_a_DCT_scaled_one()
    {
        // The lesson behind ResultSettings: a hand-kept fingerprint forgot --jpeg_dct_scale, and a resumed run mixed the
        // two settings. Now a rerun without --full_decode (DCT scaling, the default) starts over, and its output is an
        // uninterrupted default run's, byte for byte.
        var photos = await BigPhotos(Path.Combine(_dir.Path, "big"));
        var output = _dir.File("out.jsonl");
        string[] args = ["--image_dir", photos, "--format", "jsonl", "--output", output, "--batch_size", "1"];
        var (_, code, _, journal) = await Interrupt([.. args, "--full_decode"], output, records: 2);
        Assert.Equal(ExitCode.Cancelled, code);
        Assert.True(journal.Length >= 3);

        var rerun = ClassifyProcess.Run([.. args, "--verbose"]);
        Assert.True(rerun.ExitCode == 0, rerun.Stderr);
        Assert.Contains("left by a run with another model, settings, inputs or classify build; starting over", rerun.Stderr);
        Assert.DoesNotContain("resuming:", rerun.Stderr);
        var reference = ClassifyProcess.Run(["--image_dir", photos, "--format", "jsonl", "--output", _dir.File("ref.jsonl"), "--batch_size", "1"]);
        Assert.Equal(0, reference.ExitCode);
        Assert.Equal(File.ReadAllBytes(_dir.File("ref.jsonl")), File.ReadAllBytes(output));
        // And the full decode's results differ: the setting is one that changes results.
        var fullRun = ClassifyProcess.Run(["--image_dir", photos, "--format", "jsonl", "--output", _dir.File("full.jsonl"), "--batch_size", "1", "--full_decode"]);
        Assert.Equal(0, fullRun.ExitCode);
        Assert.NotEqual(File.ReadAllBytes(_dir.File("full.jsonl")), File.ReadAllBytes(output));
    }
}
