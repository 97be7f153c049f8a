using System.Diagnostics;
using System.Text.Json;

namespace Classify.Tests;

/// <summary>
/// PngSuite (Willem van Schaik's PNG conformance suite, tests/conformance/pngsuite) through the real classify (under
/// scripts/ci/install-test.sh the installed Native AOT binary): every valid image gives libpng's pixels, every corrupt
/// one is refused, and none can stall a run, not even with ImageSharp's PNG decoder (CLASSIFY_LIBSPNG=off), which
/// spins for ever on four of them.
/// </summary>
public sealed class PngSuiteTests : IDisposable
{
    private static readonly string Suite = Path.Combine(TestData.RepoRoot, "tests", "conformance", "pngsuite");

    /// <summary>The four valid 1x1 to 4x4 interlaced 1-bit palette images ImageSharp 2.1 never returns from.</summary>
    private static readonly string[] Endless = ["s01i3p01.png", "s02i3p01.png", "s03i3p01.png", "s04i3p01.png"];

    private static readonly Dictionary<string, string?> ImageSharpPng = new() { ["CLASSIFY_LIBSPNG"] = "off" };

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string[] Files(bool corrupt) =>
        [.. Directory.GetFiles(Suite, "*.png").Where(f => Path.GetFileName(f).StartsWith('x') == corrupt).Order(StringComparer.Ordinal)];

    [Fact]
    public void The_suite_is_complete()
    {
        Assert.Equal(162, Files(corrupt: false).Length);
        Assert.Equal(14, Files(corrupt: true).Length);
    }

    /// <summary>The reference: libpng's samples as ImageMagick reads them (its PNG coder is libpng), without the
    /// gamma conversion it would otherwise apply to PngSuite's gAMA 1.0 files (-set colorspace sRGB), 16-bit, then
    /// rounded as round(v/257). classify takes samples as stored too: no gAMA, sBIT or tRNS, alpha dropped.</summary>
    private (int W, int H, byte[] Rgb) Reference(string png)
    {
        var ppm = _dir.File(Path.GetFileName(png) + ".ref.ppm");
        var start = new ProcessStartInfo("convert-im6.q16") { RedirectStandardError = true };
        foreach (var a in (string[])[png, "-set", "colorspace", "sRGB", "-depth", "16", "ppm:" + ppm]) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ImageMagick (scripts/test.sh installs imagemagick) on {png}: {err}");
        return ReadPnm(ppm);
    }

    /// <summary>A binary PGM or PPM, 8 or 16 bits, as 8-bit RGB (16-bit samples rounded as round(v/257)).</summary>
    internal static (int W, int H, byte[] Rgb) ReadPnm(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var fields = new List<string>();
        var pos = 0;
        while (fields.Count < 4)
        {
            while (char.IsWhiteSpace((char)bytes[pos])) pos++;
            var start = pos;
            while (!char.IsWhiteSpace((char)bytes[pos])) pos++;
            fields.Add(System.Text.Encoding.ASCII.GetString(bytes, start, pos - start));
        }
        pos++;
        Assert.Contains(fields[0], (string[])["P5", "P6"]);
        int w = int.Parse(fields[1]), h = int.Parse(fields[2]), max = int.Parse(fields[3]);
        Assert.Contains(max, (int[])[255, 65535]);
        var channels = fields[0] == "P6" ? 3 : 1;
        var size = max > 255 ? 2 : 1;
        Assert.Equal(w * h * channels * size, bytes.Length - pos);
        var rgb = new byte[w * h * 3];
        for (var i = 0; i < w * h * 3; i++)
        {
            var at = pos + (channels == 3 ? i : i / 3) * size;
            rgb[i] = size == 1 ? bytes[at] : (byte)(((bytes[at] << 8 | bytes[at + 1]) * 255 + 32895) >> 16);
        }
        return (w, h, rgb);
    }

    [Fact]
    public void Every_valid_image_decodes_to_libpngs_pixels()
    {
        var wrong = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.ForEach(Files(corrupt: false), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, png =>
        {
            var name = Path.GetFileName(png);
            var output = _dir.File(name + ".ppm");
            var r = ClassifyProcess.Run(["decode", png, "--output", output]);
            if (r.ExitCode != 0)
            {
                wrong.Add($"{name}: exit {r.ExitCode}: {r.Stderr.Trim()}");
                return;
            }
            var (w, h, pixels) = ReadPnm(output);
            var (rw, rh, reference) = Reference(png);
            if ((w, h) != (rw, rh))
                wrong.Add($"{name}: {w}x{h}, libpng {rw}x{rh}");
            else if (Enumerable.Range(0, pixels.Length).FirstOrDefault(i => pixels[i] != reference[i], -1) is var i and >= 0)
                wrong.Add($"{name}: sample {i} (pixel {i / 3 % w},{i / 3 / w}) is {pixels[i]}, libpng {reference[i]}");
        });
        Assert.True(wrong.IsEmpty, $"{wrong.Count} of 162 differ:\n" + string.Join('\n', wrong.Order()));
    }

    [Fact]
    public void Every_corrupt_image_is_refused_with_one_line_naming_it()
    {
        var wrong = new List<string>();
        foreach (var png in Files(corrupt: true))
        {
            var r = ClassifyProcess.Run(["decode", png, "--output", _dir.File("x.ppm")]);
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (r.ExitCode is not (ExitCode.ImageUnsupported or ExitCode.ImageCorrupt) || lines.Length != 1 || !lines[0].StartsWith($"classify: {png}: ", StringComparison.Ordinal))
                wrong.Add($"{Path.GetFileName(png)}: exit {r.ExitCode}: {r.Stderr.Trim()}");
        }
        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
        Assert.False(File.Exists(_dir.File("x.ppm")));
    }

    [Fact]
    public void The_whole_suite_in_one_run_classifies_every_valid_image_and_refuses_every_corrupt_one()
    {
        var r = ClassifyProcess.Run(["--image_dir", Suite, "--format", "jsonl", "-n", "1"]);
        Assert.Equal(ExitCode.SomeImagesFailed, r.ExitCode);
        var records = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(176, records.Count);
        var failed = records.Where(e => e.TryGetProperty("error", out _)).Select(e => Path.GetFileName(e.GetProperty("file").GetString()!)).ToList();
        Assert.Equal(Files(corrupt: true).Select(Path.GetFileName), failed);
        Assert.All(records.Where(e => !e.TryGetProperty("error", out _)), e => Assert.Single(e.GetProperty("predictions").EnumerateArray()));
    }

    [Fact]
    public void Decodes_that_cannot_be_stopped_are_timeouts_and_the_run_moves_on()
    {
        // ImageSharp's PNG decoder never returns from the four and never looks at its token: the watchdog abandons each
        // 0.5 s past the 1 s deadline, and the photos around them are classified. Two workers, two rounds: about 3 s;
        // the bound is loose for a shared machine, and far below for ever.
        string[] args = ["--decode_timeout", "1", "--threads", "2", "--format", "jsonl", "-n", "1",
            Path.Combine(Suite, Endless[0]), TestData.Chelsea, Path.Combine(Suite, Endless[1]), Path.Combine(Suite, Endless[2]),
            TestData.Coffee, Path.Combine(Suite, Endless[3]), TestData.Rocket];
        var clock = Stopwatch.StartNew();
        var r = ClassifyProcess.Run(args, env: ImageSharpPng, timeout: TimeSpan.FromSeconds(60));
        var took = clock.Elapsed;

        Assert.Equal(ExitCode.SomeImagesFailed, r.ExitCode);
        Assert.True(took < TimeSpan.FromSeconds(20), $"took {took.TotalSeconds:F1} s");
        var records = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(7, records.Count);
        var timeouts = records.Where(e => e.TryGetProperty("error", out var error) && error.GetProperty("kind").GetString() == "ImageTimeout")
            .Select(e => Path.GetFileName(e.GetProperty("file").GetString()!));
        Assert.Equal(Endless, timeouts);
        Assert.Equal([TestData.EgyptianCat, TestData.Espresso],
            records.Where(e => e.GetProperty("file").GetString() is var f && (f == TestData.Chelsea || f == TestData.Coffee))
                .Select(e => e.GetProperty("predictions")[0].GetProperty("label").GetString()));
        foreach (var name in Endless)
            Assert.Contains($"{name}: decoding PNG took over 1 s (--decode_timeout)", r.Stderr);
    }

    [Fact]
    public void Decode_of_an_image_that_cannot_be_stopped_ends_at_the_deadline_with_exit_9()
    {
        var output = _dir.File("s01.ppm");
        var clock = Stopwatch.StartNew();
        var r = ClassifyProcess.Run(["decode", Path.Combine(Suite, Endless[0]), "--output", output, "--decode_timeout", "1"],
            env: ImageSharpPng, timeout: TimeSpan.FromSeconds(60));
        Assert.Equal(ExitCode.ImageTimeout, r.ExitCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal($"classify: {Path.Combine(Suite, Endless[0])}: decoding PNG took over 1 s (--decode_timeout)", r.Stderr.Trim());
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void With_libspng_the_four_decode_in_a_few_milliseconds_each()
    {
        // The default decoder: the same four files are ordinary images (their pixels are in the conformance test).
        var r = ClassifyProcess.Run([.. Endless.Select(n => Path.Combine(Suite, n)), "--format", "jsonl", "--decode_timeout", "1", "--verbose"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(4, r.StdoutLines.Length);
        Assert.Contains("PNG decoder: libspng (", r.Stderr);
    }
}
