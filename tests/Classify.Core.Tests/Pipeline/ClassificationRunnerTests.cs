using Classify.Backends.Onnx;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Pipeline;

namespace Classify.Tests.Pipeline;

/// <summary>The pipeline on the real models, where their answers are the point (the pipeline's own behaviour is
/// tested on the fake backend: PipelineTests).</summary>
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

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    public void Broken_image_in_a_batch_fails_alone_and_order_is_kept(string model)
    {
        var broken = _dir.File("broken.png");
        var bytes = File.ReadAllBytes(TestData.Coffee);
        File.WriteAllBytes(broken, bytes[..(bytes.Length / 3)]);
        string[] inputs = [TestData.Chelsea, broken, TestData.Coffee];

        var results = Run(model, batchSize: 3, inputs);

        Assert.Equal(inputs, results.Select(r => r.File));
        Assert.Equal(TestData.EgyptianCat, results[0].Predictions![0].Label);
        Assert.Null(results[1].Predictions);
        Assert.Equal(ExitCode.ImageCorrupt, results[1].Error!.Code);
        Assert.StartsWith(inputs[1] + ": ", results[1].Error!.Message);
        Assert.Equal(TestData.Espresso, results[2].Predictions![0].Label);
        Assert.Null(results[2].Error);
    }
}
