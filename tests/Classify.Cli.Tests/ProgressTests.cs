using System.Text.Json;
using System.Text.RegularExpressions;

namespace Classify.Tests;

/// <summary>Progress and the summary on standard error, in a log and on a pseudo-terminal; standard output keeps only
/// the results.</summary>
public sealed partial class ProgressTests
{
    private static readonly string Photos = Path.Combine(TestData.Images, "exif-orientation");

    [GeneratedRegex(@"^classify: (\d+)/18 images \(\d+\.\d%\), \d+\.\d img/s, ETA (\d+:\d\d|\?), 0 failed$")]
    private static partial Regex ProgressLine();

    [GeneratedRegex(@"^classify: 18 images: 18 classified now, 0 failed, in \d+\.\d\d s \(\d+\.\d img/s\); decode \d+\.\d s on \d+ threads?, model \d+\.\d s, output \d+\.\d s: (decoding|the model) was the bottleneck \((the model waited for images|it ran) \d+% of the time\)$")]
    private static partial Regex Summary();

    [Fact]
    public void A_log_gets_a_line_per_interval_and_a_summary_and_standard_output_only_results()
    {
        var r = ClassifyProcess.Run("--image_dir", Photos, "--format", "jsonl", "--batch_size", "1", "--threads", "1", "--progress_interval", "0.01");

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(18, r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("file").GetString()).Count());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain('\r', r.Stderr);
        Assert.Matches(Summary(), lines[^1]);
        var progress = lines[..^1];
        Assert.NotEmpty(progress);
        Assert.All(progress, l => Assert.Matches(ProgressLine(), l));
        var counts = progress.Select(l => int.Parse(ProgressLine().Match(l).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(counts.Order(), counts);
        Assert.All(counts, c => Assert.InRange(c, 1, 17));
    }

    [Fact]
    public void A_quick_run_in_a_log_and_a_quiet_run_print_nothing_on_standard_error()
    {
        Assert.Empty(ClassifyProcess.Run("--image_dir", Photos, "--format", "jsonl").Stderr);
        Assert.Empty(ClassifyProcess.Run("--image_dir", Photos, "--format", "jsonl", "--quiet", "--progress_interval", "0.01").Stderr);
    }

    [Fact]
    public void A_terminal_gets_one_line_redrawn_in_place_then_the_summary()
    {
        var (exitCode, tty) = ClassifyProcess.RunOnTerminal($"--image_dir {Photos} --format jsonl --output /dev/null --batch_size 1 --threads 1 --progress_interval 0.01");
        Assert.Equal(0, exitCode);

        // Each redraw: carriage return, the line, clear to the end of the line; the summary after the line is cleared.
        var redraws = tty.Split('\r').Where(s => s.StartsWith("classify: ", StringComparison.Ordinal) && s.EndsWith("\u001b[K", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(redraws);
        Assert.All(redraws, l => Assert.Matches(ProgressLine(), l[..^3]));
        var summary = tty[(tty.LastIndexOf("\u001b[K", StringComparison.Ordinal) + 3)..].Trim();
        Assert.Matches(Summary(), summary);
        Assert.DoesNotContain("\u001b[?1h", tty);
    }

    [Fact]
    public void Results_and_progress_on_one_terminal_never_share_a_line()
    {
        // classify photos/ on a terminal: each result line starts on a cleared line, never after the progress text
        // ("classify: 17/200 images (8.5%), 14.1 img/s, ETA 0:12, 0 failedjpeg200/img00017.jpg,1,Egyptian cat,...").
        var (exitCode, tty) = ClassifyProcess.RunOnTerminal($"--image_dir {Photos} --format csv -n 1 --batch_size 1 --threads 1 --progress_interval 0.01");
        Assert.Equal(0, exitCode);
        var lines = tty.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(lines, l => l.Contains("\u001b[K", StringComparison.Ordinal)); // the progress line was drawn
        var results = lines.Where(l => l.Contains(".jpg,1,", StringComparison.Ordinal)).ToList();
        Assert.Equal(18, results.Count);
        // What the terminal keeps of a line: the text after its last carriage return, a leading line clear dropped.
        static string Shown(string line)
        {
            var text = line[(line.LastIndexOf('\r') + 1)..];
            return text.StartsWith("\u001b[K", StringComparison.Ordinal) ? text[3..] : text;
        }
        Assert.All(results, l => Assert.StartsWith(Photos, Shown(l)));
    }
}
