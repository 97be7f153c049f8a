using System.Diagnostics;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Pipeline;

/// <summary>
/// image loading → preprocessing → backend → top-k, over a list of images, in input order (the stages run concurrently:
/// <see cref="BatchPipeline"/>), and a broken image becomes an error result for that image only.
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
        _preprocessor = new Preprocessor(backend.Input);
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
    public static int DefaultBatchSize(ComputeDevice device) => device.IsCuda ? 32 : 8;

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

    private void RunBatches(IReadOnlyList<string> inputs, Action<ImageResult> onResult, CancellationToken cancel) =>
        new BatchPipeline(_backend, _manifest, _labels, _loader, _preprocessor, _topK, _batchSize, _decodeThreads, Timings)
            .Run(inputs, onResult, cancel);
}
