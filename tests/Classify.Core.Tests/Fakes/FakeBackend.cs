using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Pipeline;
using Classify.Preprocessing;

namespace Classify.Tests.Fakes;

/// <summary>
/// A backend without a model for the pipeline's tests: each image's scores are a fixed function of the mean of each
/// channel of its preprocessed pixels, so a result depends on the very pixels decoded for that image (an image that
/// lands in another image's place, or a batch filled from the wrong slot, gets another class, and the test that
/// compares with <see cref="Expected"/> fails). It can fail on cue: throw on the Nth batch, run out of memory, block
/// until its run is cancelled, or take a while per batch.
/// </summary>
public sealed class FakeBackend(InputSpec input, int classes) : IClassifierBackend
{
    private int _runs;
    private readonly TaskCompletionSource _blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The manifest the fake stands in for (squeezenet1.1's: its labels, 1000 probabilities); its model file is never opened.</summary>
    public static readonly ModelManifest Manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);

    public FakeBackend() : this(Manifest.Input, Manifest.Output.Classes) { }

    public string Name => "fake";
    public ComputeDevice Device { get; init; } = ComputeDevice.Cpu;
    public InputSpec Input => input;

    /// <summary>The batch (1-based) whose run throws <see cref="Failure"/>, or 0.</summary>
    public int FailOnBatch { get; init; }

    /// <summary>What the failing batch throws: an <see cref="OutOfMemoryException"/>, a <see cref="ClassifyException"/>...</summary>
    public Exception Failure { get; init; } = new InvalidOperationException("the fake backend fails on cue");

    /// <summary>The batch (1-based) whose run blocks until its token is cancelled, or 0.</summary>
    public int BlockOnBatch { get; init; }

    /// <summary>Time each batch takes.</summary>
    public TimeSpan Delay { get; init; }

    /// <summary>How many batches were run (or started).</summary>
    public int Runs => Volatile.Read(ref _runs);

    /// <summary>Completes once the blocking batch is running.</summary>
    public Task Blocked => _blocked.Task;

    public void Run(InputBatch batch, Span<float> output, CancellationToken cancel = default)
    {
        var run = Interlocked.Increment(ref _runs);
        if (run == FailOnBatch)
            throw Failure;
        if (run == BlockOnBatch)
        {
            _blocked.TrySetResult();
            // A pipeline that does not pass its cancellation down would leave this batch blocked: the test's own
            // timeout says so rather than hang.
            if (!cancel.WaitHandle.WaitOne(TimeSpan.FromSeconds(30)))
                throw new TimeoutException("the fake backend's blocked run was never cancelled");
            cancel.ThrowIfCancellationRequested();
        }
        if (Delay > TimeSpan.Zero && cancel.WaitHandle.WaitOne(Delay))
            cancel.ThrowIfCancellationRequested();
        for (var i = 0; i < batch.Count; i++)
            Scores(batch, i, output.Slice(i * classes, classes));
    }

    /// <summary>Probabilities for image <paramref name="i"/> of <paramref name="batch"/>: 5/15, 4/15 ... 1/15 on five
    /// consecutive classes from one that the channel means pick.</summary>
    private void Scores(InputBatch batch, int i, Span<float> output)
    {
        Span<double> sums = stackalloc double[3];
        var length = batch.ImageLength;
        var pixels = length / 3;
        for (var e = 0; e < length; e++)
        {
            var channel = batch.Spec.Layout == TensorLayout.Nchw ? e / pixels : e % 3;
            sums[channel] += batch.Floats is { } f ? f[i * length + e] : batch.Bytes![i * length + e];
        }
        var hash = 14695981039346656037UL; // FNV-1a over the means to 1/1000, its high bits picking the class
        foreach (var sum in sums)
            hash = (hash ^ (ulong)(long)Math.Round(sum / pixels * 1000)) * 1099511628211UL;
        var top = (int)((hash >> 32) % (ulong)classes);
        output.Clear();
        for (var j = 0; j < 5; j++)
            output[(top + j) % classes] = (5 - j) / 15f;
    }

    /// <summary>The fake's top-1 label for <paramref name="path"/>, computed alone (one image, one batch, its own
    /// decode and preprocessing): what the pipeline must give for that image whatever the batch or order.</summary>
    public static string Expected(string path) => ExpectedPredictions(path)[0].Label;

    public static Prediction[] ExpectedPredictions(string path, int topK = 5)
    {
        var fake = new FakeBackend();
        var batch = new InputBatch(fake.Input, 1) { Count = 1 };
        using (var image = new ImageLoader().Load(path))
            new Preprocessor(fake.Input).Fill(image, batch, 0);
        var output = new float[fake.Classes];
        fake.Run(batch, output);
        return TopK.Select(output, SharedLabels.Value, Manifest.Output.Kind, topK);
    }

    public int Classes => classes;

    public static readonly Lazy<Labels> SharedLabels = new(() => Labels.Load(Manifest));

    /// <summary>A runner over <paramref name="backend"/> with the fake's manifest and labels.</summary>
    public static ClassificationRunner Runner(IClassifierBackend backend, int batchSize, int topK = 5, int decodeThreads = 0) =>
        new(backend, Manifest, SharedLabels.Value, new ImageLoader(), topK, batchSize, decodeThreads);

    public void Dispose()
    {
    }
}
