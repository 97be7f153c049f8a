using Classify.Inference;
using Classify.Models;

namespace Classify.Tests.Inference;

/// <summary>The plan classify and bench both run: the request checked once, the engine picked (a model file given by
/// path picks its own), the manifest's file chosen for --fp16, on the repository's real models.</summary>
public sealed class ModelPlanTests
{
    private sealed class Engine(string name, string format, bool convertsToHalf = false) : IBackendFactory
    {
        public string Name => name;
        public string FileFormat => format;
        public bool ConvertsToHalf => convertsToHalf;
        public IClassifierBackend Create(ModelManifest manifest, BackendOptions options) => throw new InvalidOperationException("not run here");
    }

    private static readonly Dictionary<string, IBackendFactory> Backends = new()
    {
        ["onnx"] = new Engine("onnx", "onnx"),
        ["torch"] = new Engine("torch", "torchscript", convertsToHalf: true),
    };

    private static ModelPlan Plan(ModelRequest request) => ModelPlan.Make(request, new ModelCatalog(TestData.Models), Backends, default);

    [Theory]
    [InlineData("onnx", false, "onnx", "onnx")]
    [InlineData("onnx", true, "onnx", "onnx-fp16")] // ONNX Runtime runs the fp16 file: never float32 in its place
    [InlineData("torch", false, "torch", "torchscript")]
    [InlineData("torch", true, "torch", "torchscript")] // TorchSharp converts the weights itself
    public void The_engine_and_the_file_follow_the_request(string backend, bool half, string engine, string file)
    {
        var plan = Plan(new ModelRequest { Backend = backend, Half = half });
        Assert.Equal((TestData.DefaultModel, engine, file), (plan.Manifest.Name, plan.Factory.Name, plan.ModelFile));
    }

    [Fact]
    public void A_model_file_given_by_path_picks_its_engine()
    {
        var plan = Plan(new ModelRequest { Model = Path.Combine(TestData.Models, TestData.SqueezeNet, "squeezenet1.1.pt") });
        Assert.Equal(("torch", "torchscript"), (plan.Factory.Name, plan.ModelFile));
    }

    [Theory]
    [InlineData(DeviceRequest.Cpu, true, false, null, "--fp16 applies to CUDA only and contradicts --device cpu; see classify --help")]
    [InlineData(DeviceRequest.Cpu, false, true, null, "--channels_last applies to CUDA only and contradicts --device cpu; see classify --help")]
    [InlineData(DeviceRequest.Cpu, false, false, 1, "--gpu 1 applies to CUDA only and contradicts --device cpu; see classify --help")]
    [InlineData(DeviceRequest.Auto, false, false, -1, "--gpu must be 0 or more (an index among the visible GPUs)")]
    public void Contradicting_device_options_are_usage_errors(DeviceRequest device, bool half, bool channelsLast, int? gpu, string message)
    {
        var e = Assert.Throws<ClassifyException>(() => Plan(new ModelRequest { Device = device, Half = half, ChannelsLast = channelsLast, Gpu = gpu }));
        Assert.Equal((ExitCode.Usage, message), (e.ExitCode, e.Message));
    }

    [Fact]
    public void An_unknown_backend_is_named_with_the_ones_there_are()
    {
        var e = Assert.Throws<ClassifyException>(() => Plan(new ModelRequest { Backend = "tensorrt" }));
        Assert.Equal((ExitCode.Usage, "unknown backend 'tensorrt'; available: onnx, torch"), (e.ExitCode, e.Message));
    }

    [Fact]
    public void Fp16_on_a_model_without_an_fp16_file_is_refused_rather_than_run_in_float32()
    {
        var e = Assert.Throws<ClassifyException>(() => Plan(new ModelRequest { Model = "mobilenet_v2_1.0_224_quant", Half = true }));
        Assert.Equal(ExitCode.ModelNotFound, e.ExitCode);
        Assert.Contains("has no onnx-fp16 file, which --fp16 runs on ONNX Runtime", e.Message);
    }

    [Fact]
    public void Gpu_preprocessing_off_is_read_from_the_environment_given()
    {
        Assert.False(ModelPlan.DevicePreprocessingSetting(name => name == "CLASSIFY_GPU_PREPROCESS" ? "off" : null));
        Assert.Null(ModelPlan.DevicePreprocessingSetting(_ => null));
    }
}
