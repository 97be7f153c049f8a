using System.Diagnostics;
using System.Runtime.InteropServices;
using Classify.Images;

namespace Classify.Pipeline;

/// <summary>
/// Makes --decode_timeout hold for every decoder, also one that never looks at its cancellation token (ImageSharp's
/// PNG decoder spun for ever on four valid PngSuite images; libjpeg-turbo cannot be interrupted at all): every
/// <see cref="Tick"/> it looks at each worker's <see cref="DecodeWatch"/>, and a decode still running
/// <see cref="DecodeWatch.Slack"/> past its deadline is abandoned. The image becomes a timeout (the watch's callback records it and
/// starts a new worker), and the abandoned thread is left to the decoder at the lowest CPU priority (nice 19, so
/// it only takes what no one else wants) until it returns or the process ends. Its memory stays counted in the decode
/// budget until then. Abandoned decodes are counted; the caller decides how many it allows.
/// </summary>
internal sealed class DecodeWatchdog : IDisposable
{
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    private readonly Lock _gate = new();
    private readonly List<DecodeWatch> _watches = [];
    private readonly Timer _timer;
    private int _abandoned;

    public DecodeWatchdog() => _timer = new Timer(_ => Check(), null, Tick, Tick);

    /// <summary>How many decodes were abandoned so far.</summary>
    public int Abandoned => Volatile.Read(ref _abandoned);

    public void Watch(DecodeWatch watch)
    {
        lock (_gate) _watches.Add(watch);
    }

    public void Forget(DecodeWatch watch)
    {
        lock (_gate) _watches.Remove(watch);
    }

    private void Check()
    {
        var now = Stopwatch.GetTimestamp();
        List<(DecodeWatch Watch, Action Then)>? overdue = null;
        lock (_gate)
        {
            foreach (var watch in _watches)
                if (watch.TryAbandon(now, DecodeWatch.Slack) is { } then)
                    (overdue ??= []).Add((watch, then));
            if (overdue is not null)
                foreach (var (watch, _) in overdue)
                    _watches.Remove(watch);
        }
        if (overdue is null) return;
        foreach (var (watch, then) in overdue)
        {
            Interlocked.Increment(ref _abandoned);
            NativeThread.LowestPriority(watch.ThreadId);
            then();
        }
    }

    public void Dispose() => _timer.Dispose();
}

/// <summary>The two thread calls of Linux's libc the watchdog needs, bound at run time (no-ops where missing).</summary>
internal static unsafe class NativeThread
{
    private const int PrioProcess = 0, Nicest = 19;

    private static readonly delegate* unmanaged<int> GetTid;
    private static readonly delegate* unmanaged<int, int, int, int> SetPriority;

    static NativeThread()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc))
            return;
        if (NativeLibrary.TryGetExport(libc, "gettid", out var tid))
            GetTid = (delegate* unmanaged<int>)tid;
        if (NativeLibrary.TryGetExport(libc, "setpriority", out var prio))
            SetPriority = (delegate* unmanaged<int, int, int, int>)prio;
    }

    /// <summary>The calling thread's kernel id, or 0.</summary>
    public static int CurrentId() => GetTid != null ? GetTid() : 0;

    /// <summary>nice 19 for one thread (Linux applies PRIO_PROCESS with a thread id to that thread alone).</summary>
    public static void LowestPriority(int threadId)
    {
        if (threadId > 0 && SetPriority != null)
            _ = SetPriority(PrioProcess, threadId, Nicest);
    }
}
