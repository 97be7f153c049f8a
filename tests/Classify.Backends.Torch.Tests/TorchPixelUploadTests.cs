using System.Runtime.InteropServices;
using System.Text.Json;
using Classify.Backends.Torch;
using Classify.Gpu;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;
using TorchSharp;
using static TorchSharp.torch;

namespace Classify.Tests;

/// <summary>On CUDA the TorchSharp backend uploads the resized pixels (uint8, a quarter of the bytes) and casts,
/// normalises and lays them out on the GPU. The same code runs here on the CPU, forced, against the managed path.</summary>
public sealed class TorchPixelUploadTests : IDisposable
{
    private static readonly BackendOptions Cpu = new() { Device = DeviceRequest.Cpu };
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>SqueezeNet's TorchScript file under a manifest with torchvision's normalisation (scale 1/255, ImageNet
    /// mean and std) and the given layout, so the arithmetic is not the identity.</summary>
    private ModelManifest Normalised(string channelOrder)
    {
        var folder = Path.Combine(_dir.Path, channelOrder);
        Directory.CreateDirectory(folder);
        var source = TestData.ModelFolder(TestData.SqueezeNet);
        File.Copy(Path.Combine(source, "squeezenet1.1.pt"), Path.Combine(folder, "m.pt"));
        File.Copy(Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt"), Path.Combine(folder, "labels.txt"));
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, "m.pt"))));
        File.WriteAllText(Path.Combine(folder, ModelManifest.FileName), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["name"] = "normalised",
            ["files"] = new Dictionary<string, object> { ["torchscript"] = new Dictionary<string, string> { ["path"] = "m.pt", ["sha256"] = sha } },
            ["labels"] = new Dictionary<string, string> { ["path"] = "labels.txt" },
            ["input"] = new Dictionary<string, object>
            {
                ["name"] = "data_0", ["layout"] = "nchw", ["elementType"] = "float32", ["width"] = 224, ["height"] = 224,
                ["channelOrder"] = channelOrder, ["scale"] = 1 / 255.0, ["mean"] = new[] { 0.485, 0.456, 0.406 }, ["std"] = new[] { 0.229, 0.224, 0.225 },
            },
            ["output"] = new Dictionary<string, object> { ["name"] = "out", ["kind"] = "probabilities", ["classes"] = 1000 },
        }));
        return ModelCatalog.Load(Path.Combine(folder, ModelManifest.FileName));
    }

    private static TorchBackend Create(ModelManifest manifest, bool pixels) =>
        (TorchBackend)new TorchBackendFactory().Create(manifest, Cpu with { DevicePreprocessing = pixels });

    private static float[] Classify(IClassifierBackend backend, ModelManifest manifest, string[] images)
    {
        var batch = new InputBatch(backend.Input, images.Length) { Count = images.Length };
        var preprocessor = new Preprocessor(backend.Input);
        var loader = new ImageLoader();
        for (var i = 0; i < images.Length; i++)
            loader.LoadAndUse(images[i], image => preprocessor.Fill(image, batch, i));
        var output = new float[images.Length * manifest.Output.Classes];
        backend.Run(batch, output);
        return output;
    }

    [Theory]
    [InlineData("bgr")]
    [InlineData("rgb")]
    public void Device_preprocessing_gives_the_model_the_managed_writers_floats_bit_for_bit(string order)
    {
        var manifest = Normalised(order);
        using var backend = Create(manifest, pixels: true);
        Assert.Equal((TensorLayout.Nhwc, TensorElementKind.Uint8), (backend.Input.Layout, backend.Input.ElementType));
        var pixels = new byte[2 * 224 * 224 * 3];
        new Random(3).NextBytes(pixels);

        using var scope = NewDisposeScope();
        var onDevice = backend.FromPixels(tensor(pixels, [2, 224, 224, 3]));
        var got = MemoryMarshal.Cast<byte, float>(onDevice.contiguous().bytes).ToArray();

        var batch = new InputBatch(manifest.Input, 2) { Count = 2 };
        var writer = new TensorWriter(manifest.Input);
        writer.Write(pixels.AsSpan(0, 224 * 224 * 3), batch, 0);
        writer.Write(pixels.AsSpan(224 * 224 * 3), batch, 1);
        Assert.Equal(batch.Floats, got);
    }

    [Fact]
    public void Uploading_pixels_classifies_exactly_as_uploading_floats()
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);
        string[] photos = [TestData.Chelsea, TestData.Coffee, TestData.Astronaut, TestData.Rocket];
        using var floats = Create(manifest, pixels: false);
        using var pixels = Create(manifest, pixels: true);

        Assert.Equal(Classify(floats, manifest, photos), Classify(pixels, manifest, photos));
    }

    [Fact]
    public void Pixels_are_uploaded_on_cuda_for_float_models_only()
    {
        var input = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _).Input;
        Assert.True(new BackendOptions().PreprocessesOnDevice(cuda: true, input));
        Assert.False(new BackendOptions().PreprocessesOnDevice(cuda: false, input));
        Assert.False(new BackendOptions { DevicePreprocessing = false }.PreprocessesOnDevice(cuda: true, input));  // CLASSIFY_GPU_PREPROCESS=off
        Assert.False(new BackendOptions().PreprocessesOnDevice(cuda: true, input.AsPixels())); // a uint8 model takes its bytes as they are
        using var managed = new TorchBackendFactory().Create(new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _), Cpu);
        Assert.Equal(TensorElementKind.Float32, managed.Input.ElementType);
    }
}
