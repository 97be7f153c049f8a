using System.Diagnostics;
using System.Globalization;

namespace Classify.Pipeline;

/// <summary>How a run reports its progress on standard error.</summary>
public sealed record ProgressOptions
{
    /// <summary>Standard error is a terminal: one line rewritten in place, a few times a second.</summary>
    public bool Terminal { get; init; }

    /// <summary>Seconds between lines in a log (not a terminal); null: the default, 30 s.</summary>
    public double? Interval { get; init; }

    /// <summary>The results go to the same terminal (standard output is one too): the progress line is cleared before
    /// each result, or the two would share a line.</summary>
    public bool ResultsOnTerminal { get; init; }

    /// <summary>--quiet: no progress and no summary.</summary>
    public bool Quiet { get; init; }

    /// <summary>--verbose: the summary even for a short run.</summary>
    public bool Verbose { get; init; }

    public const double DefaultLogInterval = 30;
    public const double TerminalInterval = 0.5;
}

/// <summary>
/// The progress line (done/total, img/s, ETA, failures so far) and the final summary of a run, on standard error, so
/// that standard output carries only results. Quick runs stay quiet: on a terminal the line appears after the first
/// second, in a log (a Slurm job's) after the first interval, and the summary follows only a run that showed progress,
/// or one given --verbose or --progress_interval. Called on the thread that writes the results.
/// </summary>
public sealed class ProgressReporter(TextWriter error, ProgressOptions options, int total, int resumed)
{
    private readonly int _resumed = resumed;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    // On a terminal the line appears after a second (a shorter interval, if one is given) and is redrawn twice a second.
    private double _nextReport = options.Terminal ? Math.Min(1.0, options.Interval ?? 1.0) : options.Interval ?? ProgressOptions.DefaultLogInterval;
    private bool _shown;
    private int _done = resumed;

    private int _failed;

    /// <summary>One more result (a resumed one counts in <c>resumed</c> and is not passed here).</summary>
    public void Add(bool failed)
    {
        _done++;
        if (failed) _failed++;
        if (options.Quiet)
            return;
        var now = _clock.Elapsed.TotalSeconds;
        if (now < _nextReport || _done >= total)
            return;
        _nextReport = now + (options.Terminal
            ? Math.Min(ProgressOptions.TerminalInterval, options.Interval ?? ProgressOptions.TerminalInterval)
            : options.Interval ?? ProgressOptions.DefaultLogInterval);
        var line = Line(now);
        // On a terminal: back to the line's start, the new text, then clear what a longer line left (ESC[K).
        error.Write(options.Terminal ? $"\r{line}\u001b[K" : line + "\n");
        _shown = true;
    }

    /// <summary>A line that is already on a terminal's progress line must not be written over by another message.</summary>
    public void BeforeMessage()
    {
        if (options.Terminal && _shown)
            error.Write("\r\u001b[K");
    }

    internal string Line(double seconds)
    {
        var now = _done - _resumed;
        var rate = seconds > 0 ? now / seconds : 0;
        var eta = rate > 0 ? TimeSpan.FromSeconds((total - _done) / rate) : (TimeSpan?)null;
        var percent = total > 0 ? 100.0 * _done / total : 100;
        return string.Create(CultureInfo.InvariantCulture,
            $"classify: {_done}/{total} images ({percent:F1}%), {rate:F1} img/s, ETA {(eta is { } e ? Clock(e) : "?")}, {_failed} failed");
    }

    /// <summary>The summary, when one is due: after the progress line, with --verbose, or with an explicit interval.</summary>
    public void Finish(RunTimings timings, int failedTotal)
    {
        if (options.Quiet || !(_shown || options.Verbose || options.Interval is not null))
            return;
        if (options.Terminal && _shown)
            error.Write("\r\u001b[K");
        var seconds = _clock.Elapsed.TotalSeconds;
        var now = total - _resumed;
        error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"classify: {total} images: {now} classified now{(_resumed > 0 ? $", {_resumed} resumed from the journal" : "")}, {failedTotal} failed, "
            + $"in {seconds:F2} s{(now > 0 && seconds > 0 ? $" ({now / seconds:F1} img/s)" : "")}{timings.Describe()}"));
    }

    private static string Clock(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}")
        : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:D2}");
}

/// <summary>Where a run's time went: decoding (summed over the decode workers), the model, writing the results, and how
/// long the model waited for decoded images, which says which of the two was the bottleneck.</summary>
public sealed class RunTimings
{
    private long _decodeTicks, _modelTicks, _outputTicks, _waitTicks, _wallTicks;

    public TimeSpan Decode => TimeSpan.FromTicks(Interlocked.Read(ref _decodeTicks));
    public TimeSpan Model => TimeSpan.FromTicks(_modelTicks);
    public TimeSpan Output => TimeSpan.FromTicks(_outputTicks);
    public TimeSpan ModelWaited => TimeSpan.FromTicks(_waitTicks);
    public TimeSpan Wall => TimeSpan.FromTicks(_wallTicks);
    public int DecodeThreads { get; set; }

    internal void AddDecode(TimeSpan t) => Interlocked.Add(ref _decodeTicks, t.Ticks);
    internal void AddModel(TimeSpan t) => _modelTicks += t.Ticks;
    internal void AddOutput(TimeSpan t) => _outputTicks += t.Ticks;
    internal void AddWait(TimeSpan t) => _waitTicks += t.Ticks;
    internal void AddWall(TimeSpan t) => _wallTicks += t.Ticks;

    /// <summary>"; decode 61.0 s (2 threads), model 70.1 s, output 0.4 s: the model was the bottleneck", or "" before any batch.</summary>
    public string Describe()
    {
        if (_wallTicks == 0)
            return "";
        var waited = ModelWaited.TotalSeconds / Wall.TotalSeconds;
        var verdict = waited > 0.2
            ? $"decoding was the bottleneck (the model waited for images {waited * 100:F0}% of the time)"
            : $"the model was the bottleneck (it ran {Math.Min(1, Model.TotalSeconds / Wall.TotalSeconds) * 100:F0}% of the time)";
        return string.Create(CultureInfo.InvariantCulture,
            $"; decode {Decode.TotalSeconds:F1} s on {DecodeThreads} thread{(DecodeThreads == 1 ? "" : "s")}, model {Model.TotalSeconds:F1} s, output {Output.TotalSeconds:F1} s: {verdict}");
    }
}
