using System.Diagnostics;
using System.Threading.Channels;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Pipeline;

/// <summary>
/// The stages of one run, joined by bounded channels so that memory stays fixed whatever the number of images:
/// dispatch → decode → batch → infer → emit. The dispatcher hands out a free batch slot per batch, in order, and the
/// images of that batch to the decode workers (<see cref="DecodeStage"/>), who decode and preprocess any image of any
/// open batch; the batch stage puts the slots the decoders finished back in order; the model runs them one by one; the
/// emit stage does top-k, hands the results on in input order and frees the slot, which is the back-pressure: with
/// <see cref="SlotCount"/> slots, two batches decode while the model runs a third and the results of a fourth are
/// written. Each stage completes its output channel with its exception, and the first fault wins (<see cref="FirstFault"/>):
/// it stops the stages before it, a running batch included (the model's cancellation token), while the stages after it
/// drain what was finished, so that the journal has every result computed and a rerun resumes after them.
/// </summary>
internal sealed class BatchPipeline(IClassifierBackend backend, ModelManifest manifest, Labels labels, ImageLoader loader,
    Preprocessor preprocessor, int topK, int batchSize, int decodeThreads, RunTimings timings)
{
    public const int SlotCount = 4;

    /// <summary>How many decodes that could not be stopped a run leaves behind before it stops itself (each holds a
    /// thread at nice 19 and its image's share of the decode memory until its decoder returns).</summary>
    public const int MaxAbandoned = 32;

    /// <summary>How long a stopped run waits for its decode workers.</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    /// <summary>A batch the model has run, and the device that ran it.</summary>
    private sealed record Inferred(BatchSlot Slot, ComputeDevice Device);

    /// <summary>The public API is synchronous: this is the one place that waits for the stages.</summary>
    public void Run(IReadOnlyList<string> inputs, Action<ImageResult> onResult, CancellationToken cancel) =>
        RunAsync(inputs, onResult, cancel).GetAwaiter().GetResult();

    private async Task RunAsync(IReadOnlyList<string> inputs, Action<ImageResult> onResult, CancellationToken cancel)
    {
        var capacity = Math.Min(batchSize, inputs.Count);
        var batches = (inputs.Count + capacity - 1) / capacity;
        var slotCount = Math.Min(SlotCount, batches);
        // The device the run starts on; a batch run elsewhere (a GPU run that moved to the CPU) says so per result.
        var startDevice = backend.Device;
        using var faults = new FirstFault(cancel);

        var free = Bounded<BatchSlot>(slotCount);
        for (var s = 0; s < slotCount; s++)
            free.Writer.TryWrite(new BatchSlot(backend.Input, manifest.Output.Classes, capacity, backend.FeatureWidth));
        var work = Bounded<(BatchSlot Slot, int Index)>(2 * capacity);
        var decoded = Bounded<BatchSlot>(slotCount);  // whole batches, in the order they were finished
        var ready = Bounded<BatchSlot>(slotCount);    // in input order
        var inferred = Bounded<Inferred>(slotCount);

        using var decode = new DecodeStage(inputs, loader, preprocessor, timings, faults, work.Reader, decoded.Writer);
        Task[] stages =
        [
            Stage(faults, work.Writer, () => Dispatch(inputs.Count, capacity, free.Reader, work.Writer, faults.Token)),
            Stage(faults, ready.Writer, () => Order(decoded.Reader, ready.Writer, faults.Token)),
            Stage(faults, inferred.Writer, () => Infer(ready.Reader, inferred.Writer, faults.Token)),
            // The output stage drains whatever the model finished (a GPU that fails mid-run under --require-gpu), and
            // stops early only for the user's cancel or its own fault: it is the one that appends to the journal.
            Stage(faults, free.Writer, () => Emit(inputs, inferred.Reader, free.Writer, onResult, startDevice, cancel)),
        ];
        decode.Start(decodeThreads);
        await faults.EndAsync(stages, decode.Completion, StopGrace).ConfigureAwait(false);
    }

    private static Channel<T> Bounded<T>(int capacity) => Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>Runs one stage on the thread pool; its end completes its output channel, with its exception if it
    /// failed, and a failure is handed to <paramref name="faults"/> (the returned task never faults).</summary>
    private static Task Stage<T>(FirstFault faults, ChannelWriter<T> output, Func<Task> body) => Task.Run(async () =>
    {
        try
        {
            await body().ConfigureAwait(false);
            output.TryComplete();
        }
        catch (Exception e)
        {
            output.TryComplete(e);
            faults.Fail(e);
        }
    }, CancellationToken.None);

    private static async Task Dispatch(int images, int capacity, ChannelReader<BatchSlot> free, ChannelWriter<(BatchSlot, int)> work,
        CancellationToken token)
    {
        for (var b = 0; b * capacity < images; b++)
        {
            var slot = await free.ReadAsync(token).ConfigureAwait(false);
            slot.Start(b, b * capacity, Math.Min(capacity, images - b * capacity));
            for (var i = 0; i < slot.Count; i++)
                await work.WriteAsync((slot, i), token).ConfigureAwait(false);
        }
    }

    /// <summary>The batch stage: whole batches from the decoders, in any order, to the model in input order.</summary>
    private static async Task Order(ChannelReader<BatchSlot> decoded, ChannelWriter<BatchSlot> ready, CancellationToken token)
    {
        var early = new Dictionary<int, BatchSlot>();
        var next = 0;
        await foreach (var slot in decoded.ReadAllAsync(token).ConfigureAwait(false))
        {
            early.Add(slot.Number, slot);
            while (early.Remove(next, out var first))
            {
                await ready.WriteAsync(first, token).ConfigureAwait(false);
                next++;
            }
        }
    }

    private async Task Infer(ChannelReader<BatchSlot> ready, ChannelWriter<Inferred> inferred, CancellationToken token)
    {
        var classes = manifest.Output.Classes;
        var waiting = Stopwatch.GetTimestamp();
        while (await ready.WaitToReadAsync(token).ConfigureAwait(false))
        {
            if (!ready.TryRead(out var slot))
                continue;
            timings.AddWait(Stopwatch.GetElapsedTime(waiting));
            token.ThrowIfCancellationRequested();
            var t = Stopwatch.GetTimestamp();
            if (slot.AnyOk)
                backend.Run(slot.Batch, slot.Output.AsSpan(0, slot.Count * classes), slot.Features.AsSpan(0, slot.Count * backend.FeatureWidth), token);
            timings.AddModel(Stopwatch.GetElapsedTime(t));
            await inferred.WriteAsync(new Inferred(slot, backend.Device), token).ConfigureAwait(false);
            waiting = Stopwatch.GetTimestamp();
        }
    }

    private async Task Emit(IReadOnlyList<string> inputs, ChannelReader<Inferred> inferred, ChannelWriter<BatchSlot> free,
        Action<ImageResult> onResult, ComputeDevice startDevice, CancellationToken cancel)
    {
        var classes = manifest.Output.Classes;
        var width = backend.FeatureWidth;
        await foreach (var (slot, device) in inferred.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            // A result handler may cancel (Ctrl-C arrives while writing): no batch after that one is written.
            cancel.ThrowIfCancellationRequested();
            var t = Stopwatch.GetTimestamp();
            for (var i = 0; i < slot.Count; i++)
            {
                var file = inputs[slot.First + i];
                onResult(slot.Errors[i] is { } error
                    ? ImageResult.Failed(file, error)
                    : ImageResult.Ok(file, TopK.Select(slot.Output.AsSpan(i * classes, classes), labels, manifest.Output.Kind, topK))
                        with
                        {
                            Device = device == startDevice ? null : device.ToString(),
                            // The row leaves the slot, which the next batch reuses: one copy per image, as its predictions.
                            Features = width == 0 ? null : slot.Features.AsSpan(i * width, width).ToArray(),
                        });
            }
            timings.AddOutput(Stopwatch.GetElapsedTime(t));
            free.TryWrite(slot);
        }
    }
}
