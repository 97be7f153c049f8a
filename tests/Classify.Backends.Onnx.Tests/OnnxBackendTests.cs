using Classify.Backends.Onnx;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Pipeline;

namespace Classify.Tests;

public sealed class OnnxBackendTests
{
    private static ImageResult[] Classify(string model, params string[] images)
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(model, out _);
        using var backend = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu });
        var runner = new ClassificationRunner(backend, manifest, Labels.Load(manifest), new ImageLoader(), topK: 5, batchSize: 4);
        var results = new List<ImageResult>();
        runner.Run(images, results.Add);
        return results.ToArray();
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void Chelsea_is_an_Egyptian_cat(string model)
    {
        var top = Classify(model, TestData.Chelsea)[0].Predictions!;
        Assert.Equal(TestData.EgyptianCat, top[0].Label);
        Assert.Equal(TestData.EgyptianCatClass, top[0].Class);
        Assert.InRange(top[0].Score, 0.7f, 1f);
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void Coffee_is_an_espresso(string model)
    {
        var top = Classify(model, TestData.Coffee)[0].Predictions!;
        Assert.Equal(TestData.Espresso, top[0].Label);
        Assert.InRange(top[0].Score, 0.9f, 1f);
    }
}
