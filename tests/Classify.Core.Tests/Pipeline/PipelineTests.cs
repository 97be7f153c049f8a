using Classify.Inference;
using Classify.Pipeline;
using Classify.Tests.Fakes;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Pipeline;

/// <summary>
/// The pipeline's promises on the fake backend, whose scores come from each image's own pixels: results in input
/// order whatever the batch size, decoders or decode times; a broken image fails alone; a failing model, output or
/// handler ends the run with its own error (the first), after the results before it; a cancel reaches a running
/// batch.
/// </summary>
public sealed class PipelineTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static List<ImageResult> Run(IClassifierBackend backend, int batchSize, IReadOnlyList<string> inputs, int decodeThreads = 0,
        Action<ImageResult>? also = null, CancellationToken cancel = default)
    {
        var results = new List<ImageResult>();
        FakeBackend.Runner(backend, batchSize, decodeThreads: decodeThreads).Run(inputs, r =>
        {
            results.Add(r);
            also?.Invoke(r);
        }, cancel);
        return results;
    }

    /// <summary><paramref name="count"/> PNGs of different colours and sizes (so that they decode in different times,
    /// and finish out of order across decoders).</summary>
    private string[] Pictures(int count) => [.. Enumerable.Range(0, count).Select(i =>
    {
        var path = _dir.File($"p{i:D3}.png");
        var side = 32 + i * 97 % 900;
        using var image = new Image<Rgb24>(side, side / 2 + 1, new Rgb24((byte)(i * 37), (byte)(255 - i * 11), (byte)(i * i)));
        image.SaveAsPng(path);
        return path;
    })];

    private string Broken()
    {
        var broken = _dir.File("broken.png");
        File.WriteAllBytes(broken, File.ReadAllBytes(TestData.Coffee)[..5000]);
        return broken;
    }

    private static void AssertEachIsItsOwn(IReadOnlyList<string> inputs, IReadOnlyList<ImageResult> results)
    {
        Assert.Equal(inputs, results.Select(r => r.File));
        foreach (var r in results.Where(r => r.Error is null))
            Assert.Equal(FakeBackend.ExpectedPredictions(r.File), r.Predictions);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 4)]
    [InlineData(8, 2)]
    [InlineData(64, 3)]
    public void Every_result_is_its_own_images_in_input_order(int batchSize, int decodeThreads)
    {
        var inputs = Pictures(23).Concat([TestData.Chelsea, Broken(), _dir.File("gone.png"), TestData.Rocket]).ToArray();

        var results = Run(new FakeBackend(), batchSize, inputs, decodeThreads);

        AssertEachIsItsOwn(inputs, results);
        Assert.Equal(ExitCode.ImageCorrupt, results[^3].Error!.Code);
        Assert.Equal(ExitCode.ImageNotFound, results[^2].Error!.Code);
        Assert.Equal(inputs.Length - 2, results.Count(r => r.Error is null));
        // the fake tells the pictures apart (a few may share a class by chance: 1000 classes)
        Assert.InRange(results.Where(r => r.Error is null).Select(r => r.Predictions![0].Class).Distinct().Count(), 20, 25);
    }

    [Fact]
    public void Repeated_image_gets_the_same_result_each_time()
    {
        var results = Run(new FakeBackend(), 4, [TestData.Chelsea, TestData.Chelsea, TestData.Chelsea]);

        Assert.All(results, r => Assert.Equal(FakeBackend.ExpectedPredictions(TestData.Chelsea), r.Predictions));
    }

    [Fact]
    public void No_inputs_give_no_results_and_run_nothing()
    {
        var fake = new FakeBackend();
        Assert.Empty(Run(fake, 8, []));
        Assert.Equal(0, fake.Runs);
    }

    [Fact]
    public void A_batch_of_only_failures_is_not_run()
    {
        var fake = new FakeBackend();
        var results = Run(fake, 2, [_dir.File("a.png"), _dir.File("b.png"), TestData.Coffee]);
        Assert.Equal(1, fake.Runs);
        Assert.Equal(FakeBackend.Expected(TestData.Coffee), results[2].Predictions![0].Label);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_model_failure_ends_the_run_with_its_error_after_the_batches_before_it(bool outOfMemory)
    {
        Exception failure = outOfMemory ? new OutOfMemoryException() : new ClassifyException(ExitCode.GpuUnavailable, null, "GPU cuda:0 failed");
        var inputs = Pictures(12);
        var results = new List<ImageResult>();

        var e = Assert.ThrowsAny<Exception>(() => Run(new FakeBackend { FailOnBatch = 3, Failure = failure }, 2, inputs, also: results.Add));

        Assert.Same(failure, e);
        AssertEachIsItsOwn(inputs[..4], results); // batches 1 and 2, written and journaled for a rerun to resume after
    }

    [Fact]
    public async Task A_failing_result_handler_ends_the_run_with_its_error_without_a_hang()
    {
        // The output stage fails (a full disk) while the model and the decoders still have batches in flight: every
        // stage must stop, and the handler's own error come out, not a cancellation.
        var inputs = Enumerable.Repeat(TestData.Chelsea, 40).ToList();
        var seen = 0;
        var run = Task.Run(() => Run(new FakeBackend(), 1, inputs, also: _ =>
        {
            if (++seen == 3) throw new ClassifyException(ExitCode.OutputFailed, "out.jsonl", "No space left on device");
        }));

        var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromMinutes(1)));
        Assert.True(finished == run, "the run hung after its output failed");
        var e = await Assert.ThrowsAsync<ClassifyException>(() => run);
        Assert.Equal(ExitCode.OutputFailed, e.ExitCode);
        Assert.Equal(3, seen);
    }

    [Fact]
    public async Task A_failing_handler_cancels_a_batch_the_model_is_running_and_its_error_wins()
    {
        var fake = new FakeBackend { BlockOnBatch = 2 };
        var run = Task.Run(() => Run(fake, 2, Pictures(8), also: _ =>
        {
            fake.Blocked.Wait(TimeSpan.FromSeconds(30));
            throw new ClassifyException(ExitCode.OutputFailed, "out.jsonl", "No space left on device");
        }));

        var e = await Assert.ThrowsAsync<ClassifyException>(() => run.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(ExitCode.OutputFailed, e.ExitCode);
        Assert.Equal(2, fake.Runs);
    }

    [Fact]
    public void Cancelling_stops_after_the_batch_being_written()
    {
        using var cancel = new CancellationTokenSource();
        var results = new List<ImageResult>();

        var e = Assert.ThrowsAny<OperationCanceledException>(() => Run(new FakeBackend(), 2, Enumerable.Repeat(TestData.Coffee, 20).ToList(), also: r =>
        {
            results.Add(r);
            cancel.Cancel();
        }, cancel: cancel.Token));

        Assert.Equal(cancel.Token, e.CancellationToken);
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal(FakeBackend.Expected(TestData.Coffee), r.Predictions![0].Label));
    }

    [Fact]
    public async Task A_cancel_reaches_the_batch_the_model_is_running_and_the_run_ends_promptly()
    {
        var fake = new FakeBackend { BlockOnBatch = 2 };
        using var cancel = new CancellationTokenSource();
        var inputs = Pictures(10);
        var results = new List<ImageResult>();
        var firstBatch = new TaskCompletionSource();
        var run = Task.Run(() => Run(fake, 3, inputs, also: r =>
        {
            results.Add(r);
            if (results.Count == 3) firstBatch.TrySetResult();
        }, cancel: cancel.Token));
        await fake.Blocked.WaitAsync(TimeSpan.FromSeconds(30));
        await firstBatch.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        await cancel.CancelAsync();
        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"the run took {stopwatch.Elapsed} to end after its cancel");
        Assert.Equal(cancel.Token, e.CancellationToken);
        AssertEachIsItsOwn(inputs[..3], results); // the batch before, and none after
        Assert.Equal(2, fake.Runs);
    }
}
