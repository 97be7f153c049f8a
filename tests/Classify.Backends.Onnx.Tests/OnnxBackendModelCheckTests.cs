using System.Text.Json.Nodes;
using Classify.Backends.Onnx;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Tests;

/// <summary>What the backend checks when it loads a model, and how its raw outputs line up with the labels.</summary>
public sealed class OnnxBackendModelCheckTests : IDisposable
{
    private static readonly BackendOptions Cpu = new() { Device = DeviceRequest.Cpu };
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ClassifyException CreateFails(string model, Action<JsonObject> edit)
    {
        var manifest = ModelCatalog.Load(ModelCopy.Into(_dir.Path, model, edit));
        return Assert.Throws<ClassifyException>(() => OnnxBackend.Create(manifest, Cpu).Dispose());
    }

    [Fact]
    public void Bytes_that_are_not_onnx_with_a_matching_checksum_are_ModelCorrupt_in_one_line()
    {
        // The checksum cannot help when the manifest was written for the wrong file: ONNX Runtime's own
        // refusal must still reach the user as one line, not a stack trace.
        var model = _dir.File("squeezenet1.1.onnx");
        var manifestPath = ModelCopy.Into(_dir.Path, TestData.SqueezeNet);
        File.WriteAllText(model, "<html><body>404 Not Found</body></html>\n\nproxy error\n");
        File.WriteAllText(manifestPath, File.ReadAllText(manifestPath).Replace(
            ModelCopy.ReadManifest(TestData.SqueezeNet)["files"]!["onnx"]!["sha256"]!.GetValue<string>(), ModelCopy.Sha256(model)));
        var manifest = ModelCatalog.Load(manifestPath);

        var e = Assert.Throws<ClassifyException>(() => OnnxBackend.Create(manifest, Cpu).Dispose());

        Assert.Equal(ExitCode.ModelCorrupt, e.ExitCode);
        Assert.Equal(model, e.File);
        Assert.Contains("ONNX Runtime cannot load the model", e.Message);
        Assert.IsType<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(e.InnerException);
        Assert.DoesNotContain('\n', e.OneLine);
        Assert.DoesNotContain('\r', e.OneLine);
        Assert.StartsWith(model + ": ", e.OneLine);
    }

    [Fact]
    public void Flipped_bytes_fail_the_checksum_before_onnx_runtime_sees_them()
    {
        var manifestPath = ModelCopy.Into(_dir.Path, TestData.MobileNet);
        var model = ModelCopy.ModelFile(manifestPath);
        var bytes = File.ReadAllBytes(model);
        bytes[bytes.Length / 2] ^= 0x5A;
        File.WriteAllBytes(model, bytes);

        var e = Assert.Throws<ClassifyException>(() => OnnxBackend.Create(ModelCatalog.Load(manifestPath), Cpu).Dispose());

        Assert.Equal(ExitCode.ModelCorrupt, e.ExitCode);
        Assert.Contains("checksum", e.Message);
        Assert.Null(e.InnerException);
    }

    [Fact]
    public void Wrong_input_name_is_ManifestInvalid_naming_the_real_one()
    {
        var e = CreateFails(TestData.SqueezeNet, m => m["input"]!["name"] = "images");

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains("'images'", e.Message);
        Assert.Contains("data_0", e.Message);
    }

    [Fact]
    public void Wrong_output_name_is_ManifestInvalid_naming_the_real_one()
    {
        var e = CreateFails(TestData.MobileNet, m => m["output"]!["name"] = "logits");

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains("probabilities", e.Message);
    }

    [Fact]
    public void Manifest_classes_other_than_the_models_outputs_are_LabelsMismatch()
    {
        // 1000 classes and no background offset: consistent with the 1000 labels, but MobileNet has 1001 outputs.
        var e = CreateFails(TestData.MobileNet, m =>
        {
            m["output"]!["classes"] = 1000;
            m["labels"]!["firstClassOutput"] = 0;
        });

        Assert.Equal(ExitCode.LabelsMismatch, e.ExitCode);
        Assert.Contains("1001", e.Message);
    }

    [Fact]
    public void Wrong_element_type_is_ManifestInvalid()
    {
        var e = CreateFails(TestData.SqueezeNet, m => m["input"]!["elementType"] = "uint8");

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
    }

    [Fact]
    public void Wrong_layout_is_ManifestInvalid()
    {
        var e = CreateFails(TestData.MobileNet, m => m["input"]!["layout"] = "nchw");

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains("[1,224,224,3]", e.Message.Replace(" ", ""));
    }

    [Fact]
    public void Wrong_input_size_is_ManifestInvalid()
    {
        var e = CreateFails(TestData.SqueezeNet, m => m["input"]!["width"] = 227);

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
    }

    private static float[] RawOutputs(string model, params string[] photos)
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(model, out _);
        using var backend = OnnxBackend.Create(manifest, Cpu);
        var batch = new InputBatch(manifest.Input, photos.Length) { Count = photos.Length };
        var preprocessor = new Preprocessor(manifest.Input);
        var loader = new ImageLoader();
        for (var i = 0; i < photos.Length; i++)
        {
            using var image = loader.Load(photos[i]);
            preprocessor.Fill(image, batch, i);
        }
        var output = new float[photos.Length * manifest.Output.Classes];
        backend.Run(batch, output);
        return output;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    [Theory]
    [InlineData(TestData.SqueezeNet, 0)]
    [InlineData(TestData.MobileNet, 1)]
    [InlineData(TestData.EdgeTpuQuant, 1)]
    [InlineData(TestData.EdgeTpuFloat, 1)]
    public void Egyptian_cat_is_class_285_on_every_model_after_the_background_offset(string model, int offset)
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(model, out _);
        var raw = RawOutputs(model, TestData.Chelsea);

        Assert.Equal(TestData.EgyptianCatClass + offset, ArgMax(raw));
        var top = TopK.Select(raw, Labels.Load(manifest), manifest.Output.Kind, 1)[0];
        Assert.Equal((TestData.EgyptianCatClass, TestData.EgyptianCat), (top.Class, top.Label));
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void Outputs_are_a_probability_distribution(string model)
    {
        var raw = RawOutputs(model, TestData.Astronaut);

        Assert.All(raw, v => Assert.InRange(v, 0f, 1f));
        Assert.InRange(raw.Sum(), 0.98f, 1.02f);
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void Each_image_of_a_batch_gets_its_own_row(string model)
    {
        var batched = RawOutputs(model, TestData.Chelsea, TestData.Coffee, TestData.Chelsea);
        var alone = RawOutputs(model, TestData.Coffee);
        var classes = alone.Length;

        Assert.Equal(alone, batched[classes..(2 * classes)]);
        Assert.Equal(batched[..classes], batched[(2 * classes)..]);
        Assert.NotEqual(batched[..classes], alone);
    }

    [Fact]
    public void Cpu_request_runs_on_the_cpu()
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);
        using var backend = OnnxBackend.Create(manifest, Cpu);

        Assert.Equal(ComputeDevice.Cpu, backend.Device);
        Assert.Equal("onnx", backend.Name);
    }
}
