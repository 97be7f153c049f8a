using System.Diagnostics;
using System.Threading.Channels;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Pipeline;

/// <summary>
/// The stages of one run, each on its own threads, joined by bounded channels so that memory stays fixed whatever the
/// number of images: a dispatcher hands out a free batch slot per batch, in order, and the images of that batch to
/// the decode workers; the workers decode and preprocess any image of any open batch (no worker idles at the end of
/// a batch while another straggles); the model runs the batches in order as each completes; the output stage does
/// top-k and hands the results on in input order, then frees the slot. With <see cref="SlotCount"/> slots, two
/// batches decode while the model runs a third and the results of a fourth are written.
/// </summary>
internal sealed class BatchPipeline(IClassifierBackend backend, ModelManifest manifest, Labels labels, ImageLoader loader,
    Preprocessor preprocessor, int topK, int batchSize, int decodeThreads, RunTimings timings)
{
    public const int SlotCount = 4;

    public void Run(IReadOnlyList<string> inputs, Action<ImageResult> onResult, CancellationToken cancel)
    {
        var capacity = Math.Min(batchSize, inputs.Count);
        // The device the run starts on; a batch run elsewhere (a GPU run that moved to the CPU) says so per result.
        var startDevice = backend.Device;
        var batches = (inputs.Count + capacity - 1) / capacity;
        var slots = Enumerable.Range(0, Math.Min(SlotCount, batches)).Select(_ => new BatchSlot(backend.Input, manifest.Output.Classes, capacity)).ToList();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var token = stop.Token;
        var free = Channel.CreateBounded<BatchSlot>(slots.Count);
        foreach (var slot in slots) free.Writer.TryWrite(slot);
        var ordered = Channel.CreateBounded<BatchSlot>(slots.Count);        // dispatched batches, in input order
        var work = Channel.CreateBounded<(BatchSlot Slot, int Index)>(2 * capacity);
        var results = Channel.CreateBounded<BatchSlot>(slots.Count);        // batches the model has run, in order

        var dispatcher = Task.Run(async () =>
        {
            try
            {
                for (var b = 0; b < batches; b++)
                {
                    var slot = await free.Reader.ReadAsync(token);
                    slot.Start(b * capacity, Math.Min(capacity, inputs.Count - b * capacity));
                    await ordered.Writer.WriteAsync(slot, token);
                    for (var i = 0; i < slot.Batch.Count; i++)
                        await work.Writer.WriteAsync((slot, i), token);
                }
            }
            finally
            {
                ordered.Writer.TryComplete();
                work.Writer.TryComplete();
            }
        }, token);

        // Decode workers, each watched (DecodeWatchdog): one whose decoder passes --decode_timeout without stopping is
        // abandoned, its image becomes a timeout and a new worker takes its place, so no image can stall the run.
        using var watchdog = new DecodeWatchdog();
        var live = new List<Task>();
        Exception? unstoppable = null;
        void StartWorker()
        {
            var watch = new DecodeWatch(loader.DecodeTimeout);
            Task? worker = null;
            worker = new Task(() =>
            {
                watch.ThreadId = NativeThread.CurrentId();
                while (work.Reader.WaitToReadAsync(token).AsTask().GetAwaiter().GetResult())
                {
                    while (work.Reader.TryRead(out var item))
                        if (!Decode(inputs, item.Slot, item.Index, watch, () => Abandoned(item.Slot, item.Index, watch, worker!), token))
                            return; // abandoned: this thread belongs to the decoder now
                }
                watchdog.Forget(watch);
            }, token, TaskCreationOptions.LongRunning);
            lock (live) live.Add(worker);
            watchdog.Watch(watch);
            _ = worker.ContinueWith(_ => stop.Cancel(), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            try
            {
                worker.Start(TaskScheduler.Default);
            }
            catch (InvalidOperationException) when (token.IsCancellationRequested)
            {
                // the run is ending: the task was cancelled before it could start
            }
        }
        void Abandoned(BatchSlot slot, int i, DecodeWatch watch, Task worker)
        {
            var path = inputs[slot.First + i];
            slot.Errors[i] = DecodeErrors.TimedOut(path, watch.Format, loader.DecodeTimeout);
            ClearImage(slot, i);
            bool replace;
            lock (live)
            {
                live.Remove(worker);
                replace = watchdog.Abandoned <= MaxAbandoned;
            }
            if (replace)
                StartWorker();
            else
            {
                unstoppable = new ClassifyException(ExitCode.ImageTimeout, null,
                    $"{watchdog.Abandoned} decodes ran past --decode_timeout and could not be stopped (the last: {ClassifyException.Printable(path)}); " +
                    "stopping rather than leave more behind: the results so far are written, and a rerun with the same --output resumes");
                stop.Cancel();
            }
            slot.ImageDone();
        }
        for (var w = 0; w < decodeThreads; w++)
            StartWorker();
        Task[] Workers()
        {
            lock (live) return [.. live];
        }

        var output = Task.Factory.StartNew(() =>
        {
            while (results.Reader.WaitToReadAsync(token).AsTask().GetAwaiter().GetResult())
            {
                while (results.Reader.TryRead(out var slot))
                {
                    // A result handler may cancel (Ctrl-C arrives while writing): no batch after that one is written.
                    token.ThrowIfCancellationRequested();
                    var t = Stopwatch.GetTimestamp();
                    var classes = manifest.Output.Classes;
                    for (var i = 0; i < slot.Batch.Count; i++)
                    {
                        var file = inputs[slot.First + i];
                        onResult(slot.Errors[i] is { } error
                            ? ImageResult.Failed(file, error)
                            : ImageResult.Ok(file, TopK.Select(slot.Output.AsSpan(i * classes, classes), labels, manifest.Output.Kind, topK))
                                with { Device = slot.Device == startDevice ? null : slot.Device });
                    }
                    timings.AddOutput(Stopwatch.GetElapsedTime(t));
                    free.Writer.TryWrite(slot);
                }
            }
        }, token, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        // A stage that fails (a full disk under the output stage) must not leave the others blocked on its channel.
        foreach (var stage in new[] { dispatcher, output })
            _ = stage.ContinueWith(_ => stop.Cancel(), CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

        Exception? failure = null;
        try
        {
            RunModel(ordered.Reader, results.Writer, token);
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            results.Writer.TryComplete();
        }
        // The first failure of any stage ends the others; the one to report is the one that came first, not the
        // cancellations it caused.
        var stages = new[] { dispatcher, output }.Concat(Workers()).ToArray();
        if (failure is not null && failure is not OperationCanceledException)
        {
            // The batches the model finished before it failed are still handed on, so that the journal has them and a
            // rerun resumes after them (a GPU that fails mid-run under --require-gpu).
            try
            {
                output.Wait();
            }
            catch (AggregateException)
            {
                // its own failure is reported below
            }
            stop.Cancel();
        }
        try
        {
            // A decode in flight that cannot be interrupted (libjpeg-turbo) must not hold up a Ctrl-C or Slurm's SIGTERM
            // past its grace: its worker, a background thread, is left to finish on its own as the process exits. Every
            // decoder left is bounded by the file size and pixel limits, so this is a guard, not a path tests reach.
            // The output stage is always waited for: it may be appending to the journal.
            if (cancel.IsCancellationRequested)
            {
                Task.WhenAll(dispatcher, output).ContinueWith(_ => { }, TaskScheduler.Default).Wait();
                if (!Task.WhenAll(Workers()).ContinueWith(_ => { }, TaskScheduler.Default).Wait(StopGrace))
                    throw new OperationCanceledException(cancel);
            }
            Task.WaitAll(stages);
        }
        catch (AggregateException e)
        {
            stop.Cancel();
            var cause = e.InnerExceptions.FirstOrDefault(x => x is not OperationCanceledException);
            if (cause is not null && (failure is null or OperationCanceledException))
                failure = cause;
            failure ??= e.InnerExceptions[0];
        }
        if (unstoppable is not null && !cancel.IsCancellationRequested)
            throw unstoppable;
        if (failure is not null)
        {
            if (failure is OperationCanceledException && cancel.IsCancellationRequested)
                throw new OperationCanceledException(cancel);
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }

    /// <summary>How many decodes that could not be stopped a run leaves behind before it stops itself (each holds a
    /// thread at nice 19 and its image's share of the decode memory until its decoder returns).</summary>
    public const int MaxAbandoned = 32;

    /// <summary>How long a cancelled run waits for its decode workers.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    private void RunModel(ChannelReader<BatchSlot> ordered, ChannelWriter<BatchSlot> results, CancellationToken token)
    {
        while (true)
        {
            var waiting = Stopwatch.GetTimestamp();
            if (!ordered.WaitToReadAsync(token).AsTask().GetAwaiter().GetResult())
                break;
            if (!ordered.TryRead(out var slot))
                continue;
            slot.Decoded.Wait(token);
            timings.AddWait(Stopwatch.GetElapsedTime(waiting));
            token.ThrowIfCancellationRequested();
            var t = Stopwatch.GetTimestamp();
            if (slot.Ok > 0)
                backend.Run(slot.Batch, slot.Output.AsSpan(0, slot.Batch.Count * manifest.Output.Classes), token);
            slot.Device = backend.Device;
            timings.AddModel(Stopwatch.GetElapsedTime(t));
            results.WriteAsync(slot, token).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Decodes and preprocesses one image into its slot; false when the watchdog abandoned it (the image's
    /// result is the watchdog's then, and the calling thread must leave the pipeline).</summary>
    private bool Decode(IReadOnlyList<string> inputs, BatchSlot slot, int i, DecodeWatch watch, Action onAbandoned, CancellationToken token)
    {
        var path = inputs[slot.First + i];
        var t = Stopwatch.GetTimestamp();
        watch.Begin(onAbandoned);
        try
        {
            loader.LoadAndUse(path, image =>
            {
                if (!watch.TryUse()) throw new DecodeAbandonedException();
                preprocessor.Fill(image, slot.Batch, i);
            }, token, watch);
            Interlocked.Increment(ref slot.Ok);
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
            slot.Errors[i] = e as ClassifyException
                ?? new ClassifyException(ExitCode.ImageCorrupt, path, $"cannot prepare the image for the model ({e.GetType().Name}): {e.Message}", e);
            ClearImage(slot, i);
        }
        finally
        {
            timings.AddDecode(Stopwatch.GetElapsedTime(t));
        }
        if (!watch.TryEnd()) return false;
        slot.ImageDone();
        return true;
    }

    /// <summary>A failed image still goes through the model with its batch; zeros keep that harmless.</summary>
    private static void ClearImage(BatchSlot slot, int i)
    {
        if (slot.Batch.Floats is { } f) Array.Clear(f, i * slot.Batch.ImageLength, slot.Batch.ImageLength);
        else Array.Clear(slot.Batch.Bytes!, i * slot.Batch.ImageLength, slot.Batch.ImageLength);
    }
}
