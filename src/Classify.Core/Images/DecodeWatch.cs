using System.Diagnostics;

namespace Classify.Images;

/// <summary>
/// The clock of one decode worker, which a watchdog reads (Pipeline/DecodeWatchdog): armed with the --decode_timeout
/// deadline while an image is read and decoded, paused while the image waits for its share of the decode memory (other
/// images' time, not its own), and past the point of no return once the decoded pixels are being used. A decoder that
/// does not return by the deadline plus the watchdog's slack is abandoned: the image becomes a timeout, the worker's
/// thread is left to the decoder, and every later step of that worker (<see cref="Resume"/>, <see cref="TryUse"/>)
/// throws <see cref="DecodeAbandonedException"/> so that it never touches a batch again.
/// </summary>
public sealed class DecodeWatch(TimeSpan timeout)
{
    private enum State { Idle, Armed, Paused, Using, Abandoned }

    private readonly Lock _gate = new();
    private State _state;
    private long _deadline;
    private Action? _onAbandoned;

    /// <summary>How long after its deadline a decode that has not stopped by itself is abandoned: a decoder that looks
    /// at its token stops well within it, so only one that cannot be stopped is abandoned.</summary>
    public static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(500);

    public TimeSpan Timeout { get; } = timeout;

    /// <summary>The worker's Linux thread id, for lowering an abandoned decoder's priority (0: unknown).</summary>
    public int ThreadId { get; set; }

    /// <summary>The format being decoded, for the timeout's message (the loader sets it once it knows, or the watch of
    /// the decode this one waits for knows it: <see cref="Follow"/>).</summary>
    public string? Format
    {
        get => _format ?? _follow?.Format;
        set => _format = value;
    }

    private volatile string? _format;
    private volatile DecodeWatch? _follow;

    /// <summary>This image is decoded elsewhere (a prefetch): take the format from that decode's watch.</summary>
    public void Follow(DecodeWatch other) => _follow = other;

    /// <summary>Starts the clock for one image; <paramref name="onAbandoned"/> runs on the watchdog's thread if it
    /// abandons this image.</summary>
    public void Begin(Action onAbandoned)
    {
        lock (_gate)
        {
            if (_state == State.Abandoned) throw new DecodeAbandonedException();
            _onAbandoned = onAbandoned;
            (_format, _follow) = (null, null);
            _deadline = Stopwatch.GetTimestamp() + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
            _state = State.Armed;
        }
    }

    /// <summary>Stops the clock while the image waits for memory.</summary>
    public void Pause() => Move(State.Armed, State.Paused, restart: false);

    /// <summary>Restarts the clock for the full timeout once the image has its memory.</summary>
    public void Resume() => Move(State.Paused, State.Armed, restart: true);

    /// <summary>Claims the decoded image for use; false if the watchdog abandoned it first.</summary>
    public bool TryUse()
    {
        lock (_gate)
        {
            if (_state != State.Armed) return false;
            _state = State.Using;
            return true;
        }
    }

    /// <summary>Ends the image; false if the watchdog abandoned it (its result is the watchdog's then).</summary>
    public bool TryEnd()
    {
        lock (_gate)
        {
            if (_state == State.Abandoned) return false;
            _state = State.Idle;
            _onAbandoned = null;
            return true;
        }
    }

    public bool IsAbandoned
    {
        get { lock (_gate) return _state == State.Abandoned; }
    }

    /// <summary>The watchdog's side: abandons the image if its clock runs and is past the deadline plus
    /// <paramref name="slack"/>, and returns what to do about it.</summary>
    public Action? TryAbandon(long now, TimeSpan slack)
    {
        lock (_gate)
        {
            if (_state != State.Armed || now - _deadline < (long)(slack.TotalSeconds * Stopwatch.Frequency))
                return null;
            _state = State.Abandoned;
            return _onAbandoned;
        }
    }

    private void Move(State from, State to, bool restart)
    {
        lock (_gate)
        {
            if (_state == State.Abandoned) throw new DecodeAbandonedException();
            if (_state != from) return;
            if (restart) _deadline = Stopwatch.GetTimestamp() + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
            _state = to;
        }
    }
}

/// <summary>Thrown on a worker whose decode the watchdog abandoned: the worker's thread leaves the pipeline.</summary>
public sealed class DecodeAbandonedException() : Exception("the watchdog abandoned this decode");
