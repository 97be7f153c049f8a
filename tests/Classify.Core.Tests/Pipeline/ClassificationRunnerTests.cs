using Classify.Backends.Onnx;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Pipeline;

namespace Classify.Tests.Pipeline;

public sealed class ClassificationRunnerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static List<ImageResult> Run(string model, int batchSize, IReadOnlyList<string> inputs)
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(model, out _);
        using var backend = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu });
        var runner = new ClassificationRunner(backend, manifest, Labels.Load(manifest), new ImageLoader(), topK: 5, batchSize);
        var results = new List<ImageResult>();
        runner.Run(inputs, results.Add);
        return results;
    }

    private string[] CatBrokenCoffee()
    {
        var broken = _dir.File("broken.png");
        var bytes = File.ReadAllBytes(TestData.Coffee);
        File.WriteAllBytes(broken, bytes[..(bytes.Length / 3)]);
        return [TestData.Chelsea, broken, TestData.Coffee];
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    public void Broken_image_in_a_batch_fails_alone_and_order_is_kept(string model)
    {
        var inputs = CatBrokenCoffee();

        var results = Run(model, batchSize: 3, inputs);

        Assert.Equal(inputs, results.Select(r => r.File));
        Assert.Equal(TestData.EgyptianCat, results[0].Predictions![0].Label);
        Assert.Null(results[1].Predictions);
        Assert.Equal(ExitCode.ImageCorrupt, results[1].Error!.Code);
        Assert.StartsWith(inputs[1] + ": ", results[1].Error!.Message);
        Assert.Equal(TestData.Espresso, results[2].Predictions![0].Label);
        Assert.Null(results[2].Error);
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    public void Batch_sizes_1_2_and_8_give_identical_results(string model)
    {
        // More images than the largest batch, so partial and full batches and the double buffer all take part.
        var inputs = CatBrokenCoffee().Concat([TestData.Rocket, TestData.Astronaut]).ToArray();
        inputs = [.. inputs, .. inputs];

        var one = Run(model, 1, inputs);
        var two = Run(model, 2, inputs);
        var eight = Run(model, 8, inputs);

        Assert.Equal(inputs.Length, one.Count);
        for (var i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(one[i].Error, two[i].Error);
            Assert.Equal(one[i].Error, eight[i].Error);
            Assert.Equal(one[i].Predictions?.Select(p => (p.Class, p.Score)), two[i].Predictions?.Select(p => (p.Class, p.Score)));
            Assert.Equal(one[i].Predictions?.Select(p => (p.Class, p.Score)), eight[i].Predictions?.Select(p => (p.Class, p.Score)));
        }
    }

    [Fact]
    public void Repeated_image_gets_the_same_result_each_time()
    {
        var results = Run(TestData.SqueezeNet, 4, [TestData.Chelsea, TestData.Chelsea, TestData.Chelsea]);

        Assert.All(results, r => Assert.Equal(results[0].Predictions, r.Predictions));
    }

    [Fact]
    public void Missing_file_in_a_batch_is_ImageNotFound_for_that_file_only()
    {
        var results = Run(TestData.SqueezeNet, 2, [_dir.File("gone.png"), TestData.Coffee]);

        Assert.Equal(ExitCode.ImageNotFound, results[0].Error!.Code);
        Assert.Equal(TestData.Espresso, results[1].Predictions![0].Label);
    }

    [Fact]
    public void No_inputs_give_no_results()
    {
        Assert.Empty(Run(TestData.SqueezeNet, 8, []));
    }

    [Fact]
    public void Top_k_gives_k_predictions_in_descending_order()
    {
        var top = Run(TestData.MobileNet, 1, [TestData.Chelsea])[0].Predictions!;

        Assert.Equal(5, top.Length);
        Assert.Equal(top.OrderByDescending(p => p.Score).Select(p => p.Score), top.Select(p => p.Score));
    }

    [Fact]
    public async Task A_failing_result_handler_ends_the_run_with_its_error_without_a_hang()
    {
        // The output stage fails (a full disk) while the model and the decoders still have batches in flight: every
        // stage must stop, and the handler's own error come out, not a cancellation.
        var manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);
        using var backend = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu });
        var runner = new ClassificationRunner(backend, manifest, Labels.Load(manifest), new ImageLoader(), topK: 1, batchSize: 1);
        var inputs = Enumerable.Repeat(TestData.Chelsea, 40).ToList();
        var seen = 0;
        var run = Task.Run(() => runner.Run(inputs, _ =>
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
    public void Cancelling_stops_after_the_batch_being_written()
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);
        using var backend = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu });
        var runner = new ClassificationRunner(backend, manifest, Labels.Load(manifest), new ImageLoader(), topK: 1, batchSize: 2);
        using var cancel = new CancellationTokenSource();
        var results = new List<ImageResult>();

        Assert.ThrowsAny<OperationCanceledException>(() => runner.Run(Enumerable.Repeat(TestData.Coffee, 20).ToList(), r =>
        {
            results.Add(r);
            cancel.Cancel();
        }, cancel.Token));

        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.Equal("espresso", r.Predictions![0].Label));
    }
}
