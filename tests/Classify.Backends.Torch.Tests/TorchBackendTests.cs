using System.Text.Json;
using Classify.Backends.Onnx;
using Classify.Backends.Torch;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;
using TorchSharp;

namespace Classify.Tests;

public sealed class TorchBackendTests
{
    private static readonly BackendOptions Cpu = new() { Device = DeviceRequest.Cpu };

    private static ModelManifest SqueezeNet() => new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);

    private static InputBatch Batch(ModelManifest manifest, params string[] images)
    {
        var batch = new InputBatch(manifest.Input, images.Length) { Count = images.Length };
        var preprocessor = new Preprocessor(manifest.Input);
        var loader = new ImageLoader();
        for (var i = 0; i < images.Length; i++)
        {
            using var image = loader.Load(images[i]);
            preprocessor.Fill(image, batch, i);
        }
        return batch;
    }

    private static float[] Run(IClassifierBackend backend, ModelManifest manifest, InputBatch batch)
    {
        var output = new float[batch.Count * manifest.Output.Classes];
        backend.Run(batch, output);
        return output;
    }

    /// <summary>A copy of the SqueezeNet folder in a temp dir whose manifest and files a test may change.</summary>
    private static string CopyOfSqueezeNet(TempDir dir, Action<Dictionary<string, object?>>? editManifest = null)
    {
        var folder = Path.Combine(dir.Path, "m");
        Directory.CreateDirectory(folder);
        var source = TestData.ModelFolder(TestData.SqueezeNet);
        File.Copy(Path.Combine(source, "squeezenet1.1.pt"), Path.Combine(folder, "squeezenet1.1.pt"));
        File.Copy(Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt"), Path.Combine(folder, "labels.txt"));
        var json = JsonSerializer.Deserialize<Dictionary<string, object?>>(File.ReadAllText(Path.Combine(source, ModelManifest.FileName)))!;
        json["labels"] = new Dictionary<string, object?> { ["path"] = "labels.txt" };
        json["files"] = new Dictionary<string, object?>
        {
            ["torchscript"] = new Dictionary<string, object?> { ["path"] = "squeezenet1.1.pt", ["sha256"] = Sha256(Path.Combine(folder, "squeezenet1.1.pt")) },
        };
        editManifest?.Invoke(json);
        File.WriteAllText(Path.Combine(folder, ModelManifest.FileName), JsonSerializer.Serialize(json));
        return folder;
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));

    private static ClassifyException CreateFails(string folder, BackendOptions? options = null)
    {
        var manifest = ModelCatalog.Load(Path.Combine(folder, ModelManifest.FileName));
        return Assert.Throws<ClassifyException>(() => new TorchBackendFactory().Create(manifest, options ?? Cpu).Dispose());
    }

    [Theory]
    [InlineData("chelsea.png")]
    [InlineData("coffee.png")]
    public void Gives_the_top5_and_probabilities_of_onnx_runtime(string image)
    {
        var manifest = SqueezeNet();
        var labels = Labels.Load(manifest);
        var batch = Batch(manifest, Path.Combine(TestData.Images, image));
        using var onnx = new OnnxBackendFactory().Create(manifest, Cpu);
        using var torch = new TorchBackendFactory().Create(manifest, Cpu);

        var expected = Run(onnx, manifest, batch);
        var actual = Run(torch, manifest, batch);

        Assert.Equal(
            TopK.Select(expected, labels, manifest.Output.Kind, 5).Select(p => p.Label),
            TopK.Select(actual, labels, manifest.Output.Kind, 5).Select(p => p.Label));
        var maxDiff = expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second));
        Assert.InRange(maxDiff, 0f, 1e-4f);
    }

    /// <summary>Issue 31: the default model's TorchScript twin gives ONNX Runtime's answers, so --backend torch keeps a
    /// default: the same top-5, every probability within 1e-5, on every photo, as one batch.</summary>
    [Fact]
    public void The_default_models_twin_gives_the_top5_and_probabilities_of_onnx_runtime()
    {
        var manifest = ModelCatalog.Load(Path.Combine(TestData.ModelFolder(TestData.DefaultModel), ModelManifest.FileName));
        Assert.Equal(TestData.DefaultModel, ModelCatalog.DefaultModel);
        var labels = Labels.Load(manifest);
        string[] images = [TestData.Chelsea, TestData.Coffee, TestData.Rocket, TestData.Astronaut];
        var batch = Batch(manifest, images);
        using var onnx = new OnnxBackendFactory().Create(manifest, Cpu);
        using var torch = new TorchBackendFactory().Create(manifest, Cpu);

        var expected = Run(onnx, manifest, batch);
        var actual = Run(torch, manifest, batch);

        var classes = manifest.Output.Classes;
        for (var i = 0; i < images.Length; i++)
        {
            Assert.Equal(
                TopK.Select(expected.AsSpan(i * classes, classes), labels, manifest.Output.Kind, 5).Select(p => p.Label),
                TopK.Select(actual.AsSpan(i * classes, classes), labels, manifest.Output.Kind, 5).Select(p => p.Label));
        }
        Assert.InRange(expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)), 0f, 1e-5f);
    }

    [Fact]
    public void Runs_a_batch_of_several_images_as_it_runs_each_alone()
    {
        var manifest = SqueezeNet();
        using var backend = new TorchBackendFactory().Create(manifest, Cpu);
        string[] images = [TestData.Chelsea, TestData.Coffee, TestData.Rocket];

        var together = Run(backend, manifest, Batch(manifest, images));
        var alone = images.SelectMany(i => Run(backend, manifest, Batch(manifest, i))).ToArray();

        Assert.Equal(alone.Length, together.Length);
        Assert.InRange(alone.Zip(together).Max(p => Math.Abs(p.First - p.Second)), 0f, 1e-5f);
    }

    [Fact]
    public void Runs_on_the_cpu_when_asked()
    {
        using var backend = new TorchBackendFactory().Create(SqueezeNet(), Cpu);
        Assert.Equal(ComputeDevice.Cpu, backend.Device);
    }

    [Fact]
    public void Auto_runs_on_the_cpu_where_libtorch_sees_no_gpu()
    {
        // The CPU libtorch of this build answers "no CUDA device" itself (no fake).
        using var backend = new TorchBackendFactory().Create(SqueezeNet(), new BackendOptions { Device = DeviceRequest.Auto });
        Assert.Equal(ComputeDevice.Cpu, backend.Device);
    }

    [Fact]
    public void Cuda_fails_with_GpuUnavailable_where_there_is_no_gpu()
    {
        var e = Assert.Throws<ClassifyException>(() => new TorchBackendFactory().Create(SqueezeNet(), new BackendOptions { Device = DeviceRequest.Cuda }));
        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
    }

    [Fact]
    public void Auto_runs_on_the_cpu_when_the_gpu_is_usable_but_this_libtorch_has_no_cuda()
    {
        // The probe is told of two working GPUs; this build's CPU libtorch has the last word.
        var log = new List<string>();
        using var backend = new TorchBackendFactory(probe: _ => TorchDeviceTests.TwoGpus)
            .Create(SqueezeNet(), new BackendOptions { Device = DeviceRequest.Auto, Log = log.Add });

        Assert.Equal(ComputeDevice.Cpu, backend.Device);
        Assert.Contains(log, l => l.Contains("libtorch sees no CUDA device") && l.Contains("CPU build"));
    }

    [Fact]
    public void A_missing_pt_is_ModelNotFound()
    {
        using var dir = new TempDir();
        var folder = CopyOfSqueezeNet(dir);
        File.Delete(Path.Combine(folder, "squeezenet1.1.pt"));

        var e = CreateFails(folder);

        Assert.Equal(ExitCode.ModelNotFound, e.ExitCode);
        Assert.Equal(Path.Combine(folder, "squeezenet1.1.pt"), e.File);
    }

    [Fact]
    public void A_truncated_pt_fails_its_checksum_as_ModelCorrupt()
    {
        using var dir = new TempDir();
        var folder = CopyOfSqueezeNet(dir);
        var pt = Path.Combine(folder, "squeezenet1.1.pt");
        var bytes = File.ReadAllBytes(pt);
        File.WriteAllBytes(pt, bytes[..(bytes.Length / 2)]);

        var e = CreateFails(folder);

        Assert.Equal(ExitCode.ModelCorrupt, e.ExitCode);
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void A_pt_that_libtorch_cannot_read_is_ModelCorrupt_in_one_line()
    {
        using var dir = new TempDir();
        // The checksum matches (the manifest was written for this very file), so libtorch itself reads it.
        var folder = CopyOfSqueezeNet(dir, json =>
        {
            var pt = Path.Combine(dir.Path, "m", "squeezenet1.1.pt");
            var bytes = File.ReadAllBytes(pt);
            File.WriteAllBytes(pt, bytes[..(bytes.Length / 2)]);
            json["files"] = new Dictionary<string, object?>
            {
                ["torchscript"] = new Dictionary<string, object?> { ["path"] = "squeezenet1.1.pt", ["sha256"] = Sha256(pt) },
            };
        });

        var e = CreateFails(folder);

        Assert.Equal(ExitCode.ModelCorrupt, e.ExitCode);
        Assert.Contains("TorchScript", e.Message);
        Assert.DoesNotContain('\n', e.OneLine);
    }

    [Fact]
    public void A_pt_whose_output_size_differs_from_the_labels_is_LabelsMismatch()
    {
        using var dir = new TempDir();
        // A consistent manifest and labels file for 1001 classes, beside a model that has 1000 outputs.
        var folder = CopyOfSqueezeNet(dir, json =>
        {
            File.AppendAllText(Path.Combine(dir.Path, "m", "labels.txt"), "one class too many\n");
            var output = JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(json["output"]))!;
            output["classes"] = 1001;
            json["output"] = output;
        });

        var e = CreateFails(folder);

        Assert.Equal(ExitCode.LabelsMismatch, e.ExitCode);
        Assert.Contains("1000 outputs", e.Message);
    }

    [Fact]
    public void A_manifest_input_the_model_cannot_take_is_ManifestInvalid()
    {
        using var dir = new TempDir();
        var folder = CopyOfSqueezeNet(dir, json =>
        {
            var input = JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(json["input"]))!;
            input["layout"] = "nhwc";
            json["input"] = input;
        });

        var e = CreateFails(folder);

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
    }

    [Fact]
    public void Fp16_on_the_cpu_is_a_usage_error()
    {
        var e = Assert.Throws<ClassifyException>(() => new TorchBackendFactory().Create(SqueezeNet(), Cpu with { Half = true }));
        Assert.Equal(ExitCode.Usage, e.ExitCode);
    }

    [Fact]
    public void Channels_last_gives_convolution_weights_nhwc_strides_and_the_same_results()
    {
        // channels_last is offered on CUDA only, but the conversion itself is plain libtorch and runs here.
        var manifest = SqueezeNet();
        var path = ModelCatalog.VerifiedFile(manifest, TorchBackend.FileFormat);
        using var backend = new TorchBackendFactory().Create(manifest, Cpu);
        var before = Run(backend, manifest, Batch(manifest, TestData.Chelsea));
        using var module = torch.jit.load(path);
        module.eval();

        TorchBackend.ToChannelsLast(module);

        var conv = module.parameters().First(p => p.dim() == 4);
        var (c, h, w) = (conv.shape[1], conv.shape[2], conv.shape[3]);
        Assert.Equal([h * w * c, 1, w * c, c], conv.stride());
        using var x = torch.tensor(Batch(manifest, TestData.Chelsea).Floats!, [1, 3, 224, 224]);
        using var mode = torch.inference_mode();
        // The bundled twin's forward returns (scores, embedding) (issue 32).
        using var y = (((torch.Tensor, torch.Tensor))module.call(TorchBackend.ToChannelsLast(x))).Item1.contiguous();
        var after = y.data<float>().ToArray();
        Assert.InRange(before.Zip(after).Max(p => Math.Abs(p.First - p.Second)), 0f, 1e-5f);
    }

    [Fact]
    public void Half_precision_weights_give_the_float32_top5()
    {
        // --fp16 is offered on CUDA only; module.half() itself is plain libtorch and runs here.
        var manifest = SqueezeNet();
        var labels = Labels.Load(manifest);
        var path = ModelCatalog.VerifiedFile(manifest, TorchBackend.FileFormat);
        using var backend = new TorchBackendFactory().Create(manifest, Cpu);
        var fp32 = Run(backend, manifest, Batch(manifest, TestData.Chelsea));
        using var module = torch.jit.load(path);
        module.eval();

        module.half();

        Assert.All(module.parameters(), p => Assert.Equal(torch.ScalarType.Float16, p.dtype));
        using var mode = torch.inference_mode();
        using var x = torch.tensor(Batch(manifest, TestData.Chelsea).Floats!, [1, 3, 224, 224]).half();
        using var y = (((torch.Tensor, torch.Tensor))module.call(x)).Item1.to(torch.ScalarType.Float32).contiguous();
        var fp16 = y.data<float>().ToArray();
        Assert.Equal(
            TopK.Select(fp32, labels, manifest.Output.Kind, 5).Select(p => p.Label),
            TopK.Select(fp16, labels, manifest.Output.Kind, 5).Select(p => p.Label));
        Assert.InRange(fp32.Zip(fp16).Max(p => Math.Abs(p.First - p.Second)), 0f, 1e-2f);
    }
}
