using System.Diagnostics;
using System.Threading.Channels;
using Classify.Images;
using Classify.Preprocessing;

namespace Classify.Pipeline;

/// <summary>
/// The decode stage: workers, each on a thread of its own (decoders are synchronous native code), take the images of
/// the dispatched batches in turn from <c>work</c>, decode and preprocess each into its slot, and the worker that
/// ends a batch's last image hands the slot on to <c>decoded</c> (batches may end out of order; the batch stage puts
/// them back in order). No worker idles at the end of a batch while another straggles.
/// Each worker is watched (<see cref="DecodeWatchdog"/>): one whose decoder passes --decode_timeout without stopping is
/// abandoned, its image becomes a timeout and a new worker takes its place, so no image can stall the run; after
/// <see cref="BatchPipeline.MaxAbandoned"/> of them the run stops. <see cref="Completion"/> is the end of every worker
/// not abandoned; the last one completes <c>decoded</c>, the first to fail completes it with its exception.
/// </summary>
internal sealed class DecodeStage(IReadOnlyList<string> inputs, ImageLoader loader, Preprocessor preprocessor, RunTimings timings,
    FirstFault faults, ChannelReader<(BatchSlot Slot, int Index)> work, ChannelWriter<BatchSlot> decoded) : IDisposable
{
    private readonly DecodeWatchdog _watchdog = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _live;

    public Task Completion => _completion.Task;

    public void Start(int workers)
    {
        _live = workers;
        for (var w = 0; w < workers; w++)
            Spawn();
    }

    private void Spawn()
    {
        var watch = new DecodeWatch(loader.DecodeTimeout);
        _watchdog.Watch(watch);
        try
        {
            new Thread(() => Work(watch)) { IsBackground = true, Name = "classify decode" }.Start();
        }
        catch (Exception e)
        {
            // a thread the system cannot start (OutOfMemoryException): the run ends with it
            _watchdog.Forget(watch);
            Fail(e);
            Leave();
        }
    }

    private void Work(DecodeWatch watch)
    {
        watch.ThreadId = NativeThread.CurrentId();
        try
        {
            while (Next(out var item))
                if (!Decode(item.Slot, item.Index, watch))
                    return; // abandoned: this thread belongs to the decoder now
        }
        catch (Exception e)
        {
            Fail(e);
        }
        finally
        {
            _watchdog.Forget(watch);
            // an abandoned worker's place was given up by the watchdog's callback (Abandoned)
            if (!watch.IsAbandoned) Leave();
        }
    }

    /// <summary>The next image; false once the dispatcher is done. A decoder's thread is its own, for a decode that cannot
    /// be stopped, so the wait for work is the one blocking wait on a channel in the pipeline; it holds no pool thread.</summary>
    private bool Next(out (BatchSlot Slot, int Index) item)
    {
        while (!work.TryRead(out item))
        {
            var more = work.WaitToReadAsync(faults.Token);
            if (!(more.IsCompleted ? more.Result : more.AsTask().GetAwaiter().GetResult()))
                return false;
        }
        return true;
    }

    private void Fail(Exception e)
    {
        decoded.TryComplete(e);
        faults.Fail(e);
    }

    private void Leave()
    {
        if (Interlocked.Decrement(ref _live) != 0) return;
        decoded.TryComplete();
        _completion.TrySetResult();
    }

    private void Done(BatchSlot slot, bool ok)
    {
        // Never full (one place per slot); refused only once the stage is completed, when the run is stopping.
        if (slot.ImageDone(ok))
            decoded.TryWrite(slot);
    }

    /// <summary>The watchdog gave up on image <paramref name="i"/> of <paramref name="slot"/> (on its timer's thread).</summary>
    private void Abandoned(BatchSlot slot, int i, DecodeWatch watch)
    {
        var path = inputs[slot.First + i];
        slot.Fail(i, DecodeErrors.TimedOut(path, watch.Format, loader.DecodeTimeout));
        if (_watchdog.Abandoned > BatchPipeline.MaxAbandoned)
        {
            if (faults.Cancelled) faults.Stop();
            else faults.Fail(new ClassifyException(ExitCode.ImageTimeout, null,
                $"{_watchdog.Abandoned} decodes ran past --decode_timeout and could not be stopped (the last: {ClassifyException.Printable(path)}); " +
                "stopping rather than leave more behind: the results so far are written, and a rerun with the same --output resumes"));
        }
        else if (!faults.Token.IsCancellationRequested)
        {
            Interlocked.Increment(ref _live);
            Spawn();
        }
        Done(slot, ok: false);
        Leave();
    }

    /// <summary>Decodes and preprocesses one image into its slot; false when the watchdog abandoned it (the image's
    /// result is the watchdog's then, and the calling thread must leave the pipeline).</summary>
    private bool Decode(BatchSlot slot, int i, DecodeWatch watch)
    {
        var path = inputs[slot.First + i];
        var t = Stopwatch.GetTimestamp();
        var token = faults.Token;
        watch.Begin(() => Abandoned(slot, i, watch));
        try
        {
            loader.LoadAndUse(path, image =>
            {
                if (!watch.TryUse()) throw new DecodeAbandonedException();
                preprocessor.Fill(image, slot.Batch, i);
            }, token, watch);
        }
        catch (DecodeAbandonedException)
        {
            return false;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            if (!watch.TryEnd()) return false;
            throw;
        }
        catch (Exception e) when (!ResourceLimits.IsOutOfMemory(e))
        {
            if (!watch.TryEnd()) return false;
            // A decoder bug on one crafted file must not cost the rest of the batch its results.
            slot.Fail(i, e as ClassifyException
                ?? new ClassifyException(ExitCode.ImageCorrupt, path, $"cannot prepare the image for the model ({e.GetType().Name}): {e.Message}", e));
            Done(slot, ok: false);
            return true;
        }
        finally
        {
            timings.AddDecode(Stopwatch.GetElapsedTime(t));
        }
        if (!watch.TryEnd()) return false;
        Done(slot, ok: true);
        return true;
    }

    public void Dispose() => _watchdog.Dispose();
}
