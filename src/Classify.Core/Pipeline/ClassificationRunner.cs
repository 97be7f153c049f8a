using System.Diagnostics;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Pipeline;

/// <summary>
/// image loading → preprocessing → backend → top-k, over a list of images, in input order. While the
/// backend runs one batch, the next one is decoded on the other cores (double buffering), and a broken
/// image becomes an error result for that image only.
/// </summary>
public sealed class ClassificationRunner
{
    private readonly IClassifierBackend _backend;
    private readonly ModelManifest _manifest;
    private readonly Labels _labels;
    private readonly ImageLoader _loader;
    private readonly Preprocessor _preprocessor;
    private readonly int _topK;
    private readonly int _batchSize;
    private readonly int _decodeThreads;

    public ClassificationRunner(IClassifierBackend backend, ModelManifest manifest, Labels labels, ImageLoader loader,
        int topK, int batchSize, int decodeThreads = 0)
    {
        _backend = backend;
        _manifest = manifest;
        _labels = labels;
        _loader = loader;
        _preprocessor = new Preprocessor(manifest.Input);
        _topK = topK;
        _batchSize = Math.Max(1, batchSize);
        _decodeThreads = decodeThreads > 0 ? decodeThreads : Environment.ProcessorCount;
    }

    /// <summary>
    /// --batch_size when none is given, by measurement (classify bench, README Benchmarks): on the CPU SqueezeNet ran
    /// 178-196 img/s at every batch from 1 to 64 on the 2-core development machine, and a run of 500 JPEGs peaked at
    /// 220 MB at batch 8 against 490 MB at 32 (ONNX Runtime holds every layer's activations for the whole batch); on a
    /// GPU larger batches keep the device busy.
    /// </summary>
    public static int DefaultBatchSize(string device) => device.StartsWith("cuda", StringComparison.Ordinal) ? 32 : 8;

    /// <summary>Where the time of the runs so far went.</summary>
    public RunTimings Timings { get; } = new();

    /// <summary>Classifies <paramref name="inputs"/> and hands each result to <paramref name="onResult"/> in input order.</summary>
    public void Run(IReadOnlyList<string> inputs, Action<ImageResult> onResult, CancellationToken cancel = default)
    {
        if (inputs.Count == 0) return;
        Timings.DecodeThreads = _decodeThreads;
        var wall = Stopwatch.StartNew();
        try
        {
            RunBatches(inputs, onResult, cancel);
        }
        finally
        {
            Timings.AddWall(wall.Elapsed);
        }
    }

    private void RunBatches(IReadOnlyList<string> inputs, Action<ImageResult> onResult, CancellationToken cancel)
    {
        var capacity = Math.Min(_batchSize, inputs.Count);
        var buffers = new[] { new Slot(_manifest, capacity), new Slot(_manifest, capacity) };
        var output = new float[capacity * _manifest.Output.Classes];

        var current = 0;
        var first = Stopwatch.GetTimestamp();
        Prepare(inputs, 0, buffers[current], cancel);
        Timings.AddWait(Stopwatch.GetElapsedTime(first));
        for (var start = 0; start < inputs.Count; start += capacity)
        {
            cancel.ThrowIfCancellationRequested();
            var slot = buffers[current];
            var nextStart = start + capacity;
            var next = nextStart < inputs.Count
                ? Task.Run(() => Prepare(inputs, nextStart, buffers[1 - current], cancel), cancel)
                : Task.CompletedTask;
            try
            {
                var t = Stopwatch.GetTimestamp();
                if (slot.Ok > 0)
                    _backend.Run(slot.Batch, output.AsSpan(0, slot.Batch.Count * _manifest.Output.Classes));
                Timings.AddModel(Stopwatch.GetElapsedTime(t));
                t = Stopwatch.GetTimestamp();
                for (var i = 0; i < slot.Batch.Count; i++)
                {
                    onResult(slot.Errors[i] is { } error
                        ? ImageResult.Failed(inputs[start + i], error)
                        : ImageResult.Ok(inputs[start + i], TopK.Select(
                            output.AsSpan(i * _manifest.Output.Classes, _manifest.Output.Classes), _labels, _manifest.Output.Kind, _topK)));
                }
                Timings.AddOutput(Stopwatch.GetElapsedTime(t));
            }
            finally
            {
                var waiting = Stopwatch.GetTimestamp();
                next.GetAwaiter().GetResult();
                Timings.AddWait(Stopwatch.GetElapsedTime(waiting));
            }
            current = 1 - current;
        }
    }

    private void Prepare(IReadOnlyList<string> inputs, int start, Slot slot, CancellationToken cancel)
    {
        var count = Math.Min(slot.Batch.Capacity, inputs.Count - start);
        slot.Batch.Count = count;
        var ok = 0;
        try
        {
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = _decodeThreads, CancellationToken = cancel }, i =>
            {
                slot.Errors[i] = null;
                var t = Stopwatch.GetTimestamp();
                try
                {
                    _loader.LoadAndUse(inputs[start + i], image => _preprocessor.Fill(image, slot.Batch, i), cancel);
                    Interlocked.Increment(ref ok);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A decoder bug on one crafted file must not cost the rest of the batch its results.
                    slot.Errors[i] = e as ClassifyException
                        ?? new ClassifyException(ExitCode.ImageCorrupt, inputs[start + i], $"cannot decode: {e.Message}", e);
                    // The slot still goes through the model with the batch; zeros keep that harmless.
                    if (slot.Batch.Floats is { } f) Array.Clear(f, i * slot.Batch.ImageLength, slot.Batch.ImageLength);
                    else Array.Clear(slot.Batch.Bytes!, i * slot.Batch.ImageLength, slot.Batch.ImageLength);
                }
                finally
                {
                    Timings.AddDecode(Stopwatch.GetElapsedTime(t));
                }
            });
        }
        catch (AggregateException e) when (cancel.IsCancellationRequested && e.InnerExceptions.All(x => x is OperationCanceledException))
        {
            // A decode stopped by Ctrl-C or SIGTERM (the loader takes the token): the run is cancelled, not broken.
            throw new OperationCanceledException(cancel);
        }
        slot.Ok = ok;
    }

    private sealed class Slot(ModelManifest manifest, int capacity)
    {
        public InputBatch Batch { get; } = new(manifest.Input, capacity);
        public ClassifyException?[] Errors { get; } = new ClassifyException?[capacity];
        public int Ok { get; set; }
    }
}
