using Classify.Backends.Onnx;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;
using Microsoft.ML.OnnxRuntime;

namespace Classify.Tests;

/// <summary>The engine path on the CPU: the IOBinding run gives what a plain ONNX Runtime run of the same tensor gives,
/// the fp16 SqueezeNet loads and agrees with float32, and the CUDA provider gets the options a run asks for.</summary>
public sealed class OnnxEngineOptionsTests
{
    private static readonly string[] Photos = [TestData.Chelsea, TestData.Coffee, TestData.Astronaut, TestData.Rocket];

    private static (ModelManifest Manifest, InputBatch Batch) Batch(string model)
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(model, out _);
        return (manifest, Preprocessed(manifest.Input));
    }

    /// <summary>The test photos preprocessed for <paramref name="spec"/>, one slot each.</summary>
    private static InputBatch Preprocessed(InputSpec spec)
    {
        var batch = new InputBatch(spec, Photos.Length) { Count = Photos.Length };
        var preprocessor = new Preprocessor(spec);
        var loader = new ImageLoader();
        for (var i = 0; i < Photos.Length; i++)
            loader.LoadAndUse(Photos[i], image => preprocessor.Fill(image, batch, i));
        return batch;
    }

    private static float[] Run(ModelManifest manifest, InputBatch batch, string? file = null)
    {
        using var backend = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu, ModelFile = file });
        var output = new float[batch.Count * manifest.Output.Classes];
        backend.Run(batch, output);
        return output;
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]  // uint8 input
    public void The_bound_run_gives_exactly_what_a_plain_session_run_gives(string model)
    {
        var (manifest, batch) = Batch(model);
        var bound = Run(manifest, batch);

        // One image per run: MobileNet's batch dimension is fixed at 1.
        using var session = new InferenceSession(manifest.PathOf(manifest.Files["onnx"]));
        using var runOptions = new RunOptions();
        var plain = new List<float>();
        for (var i = 0; i < batch.Count; i++)
        {
            using var input = batch.Floats is { } f
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, f.AsMemory(i * batch.ImageLength, batch.ImageLength), batch.Shape(1))
                : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, batch.Bytes!.AsMemory(i * batch.ImageLength, batch.ImageLength), batch.Shape(1));
            using var outputs = session.Run(runOptions, [manifest.Input.Name], [input], [manifest.Output.Name]);
            plain.AddRange(outputs[0].GetTensorDataAsSpan<float>().ToArray());
        }

        Assert.Equal(plain, bound);
        Assert.Contains(bound, v => v > 0.5f); // a real answer, not zeros
    }

    [Fact]
    public void The_fp16_squeezenet_agrees_with_float32_on_the_test_photos()
    {
        var (manifest, batch) = Batch(TestData.SqueezeNet);
        var full = Run(manifest, batch);
        var half = Run(manifest, batch, ModelFormats.Fp16("onnx"));
        var labels = Labels.Load(manifest);
        for (var i = 0; i < Photos.Length; i++)
        {
            var a = TopK.Select(full.AsSpan(i * 1000, 1000), labels, manifest.Output.Kind, 5);
            var b = TopK.Select(half.AsSpan(i * 1000, 1000), labels, manifest.Output.Kind, 5);
            Assert.Equal(a.Select(p => p.Class), b.Select(p => p.Class));
            Assert.All(a.Zip(b), p => Assert.Equal(p.First.Score, p.Second.Score, 1e-3f));
        }
    }

    [Fact]
    public void Cuda_provider_options_follow_the_run()
    {
        var quick = CudaSession.ProviderOptions(new BackendOptions { GpuIndex = 2, ExpectedImages = 500 });
        Assert.Equal("2", quick["device_id"]);
        Assert.Equal("HEURISTIC", quick["cudnn_conv_algo_search"]);
        Assert.Equal("0", quick["prefer_nhwc"]);

        var long_ = CudaSession.ProviderOptions(new BackendOptions { ExpectedImages = CudaSession.ExhaustiveSearchFrom, ChannelsLast = true });
        Assert.Equal("EXHAUSTIVE", long_["cudnn_conv_algo_search"]);
        Assert.Equal("1", long_["prefer_nhwc"]);
    }

    [Fact]
    public void Fp16_on_a_run_that_lands_on_the_cpu_is_refused()
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);
        var e = Assert.Throws<ClassifyException>(() => OnnxBackend.Create(manifest,
            new BackendOptions { Device = DeviceRequest.Auto, Half = true, ModelFile = ModelFormats.Fp16("onnx") }));
        Assert.Equal(ExitCode.Usage, e.ExitCode);
    }

    [Theory]
    [InlineData(TensorLayout.Nchw, ChannelOrder.Bgr)]
    [InlineData(TensorLayout.Nchw, ChannelOrder.Rgb)]
    [InlineData(TensorLayout.Nhwc, ChannelOrder.Rgb)]
    public void The_preprocessing_graph_computes_the_managed_writers_floats(TensorLayout layout, ChannelOrder order)
    {
        var spec = new InputSpec
        {
            Name = "x", Layout = layout, ChannelOrder = order, Width = 31, Height = 17,
            Scale = 1 / 255f, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
        };
        var pixels = new byte[3 * 17 * 31 * 3];
        new Random(11).NextBytes(pixels);
        var batch = new InputBatch(spec, 3) { Count = 3 };
        var writer = new TensorWriter(spec);
        for (var i = 0; i < 3; i++)
            writer.Write(pixels.AsSpan(i * 17 * 31 * 3, 17 * 31 * 3), batch, i);

        using var session = new InferenceSession(PreprocessGraph.Build(spec));
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [3, 17, 31, 3]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [PreprocessGraph.InputName], [input], [PreprocessGraph.OutputName]);

        Assert.Equal(InputBatch.ShapeOf(spec, 3), outputs[0].GetTensorTypeAndShape().Shape);
        var graph = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(batch.Floats!.Length, graph.Length);
        var worst = graph.Zip(batch.Floats).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= 1e-6f, $"largest difference {worst}");
    }

    [Fact]
    public void Chaining_the_graph_to_the_model_classifies_as_the_managed_path()
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);
        using var managed = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu });
        using var chained = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu, DevicePreprocessing = true });
        Assert.Equal((TensorLayout.Nhwc, TensorElementKind.Uint8), (chained.Input.Layout, chained.Input.ElementType));
        Assert.Equal(TensorElementKind.Float32, managed.Input.ElementType);

        float[] Classify(IClassifierBackend backend)
        {
            var output = new float[Photos.Length * manifest.Output.Classes];
            backend.Run(Preprocessed(backend.Input), output);
            return output;
        }

        Assert.Equal(Classify(managed), Classify(chained));
    }
}
