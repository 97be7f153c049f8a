using System.Security.Cryptography;
using Classify.Backends.Onnx;
using Classify.Backends.Onnx.Graph;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Pipeline;

namespace Classify.Tests;

/// <summary>The embedding output of the bundled models (issue 32): added by a protobuf edit that changes nothing else.</summary>
public sealed class FeatureOutputTests
{
    private static string ModelFile(string model, string file) => Path.Combine(TestData.ModelFolder(model), file);

    [Theory]
    // The files whose embedding was a tensor they had: dropping the added output gives back the file before the edit,
    // byte for byte (its sha256 is in the model's description).
    [InlineData(TestData.EdgeTpuFloat, "mobilenet_edgetpu_224_1.0_float.onnx", "0ce98ee9e953174b0625503f40c21ba426d31518e45da0ed40cc6b6e56948972")]
    [InlineData(TestData.EdgeTpuFloat, "mobilenet_edgetpu_224_1.0_float_fp16.onnx", "c813321164fb19e11fef874655df9ed1f8fbb40f07d7c0b0f5688ba85630c92e")]
    public void Without_its_added_output_a_bundled_file_is_the_original(string model, string file, string before)
    {
        var bytes = File.ReadAllBytes(ModelFile(model, file));
        Assert.Equal(["probabilities", "op73_average_pool_2d"], OnnxGraphEditor.Names(bytes).Outputs);
        Assert.Equal(before, Convert.ToHexStringLower(SHA256.HashData(OnnxGraphEditor.KeepFirstOutput(bytes))));
        // and adding it again gives the bundled file
        Assert.Equal(bytes, FeatureOutput.Add(OnnxGraphEditor.KeepFirstOutput(bytes), "op73_average_pool_2d").Model);
    }

    [Theory]
    [InlineData(TestData.SqueezeNet, 512)]
    [InlineData(TestData.MobileNet, 1280)]
    [InlineData(TestData.EdgeTpuQuant, 1280)]
    [InlineData(TestData.EdgeTpuFloat, 1280)]
    public void Scores_are_the_same_bytes_with_the_embedding_asked_for_or_not(string name, int width)
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(name, out _);
        string[] photos = [TestData.Chelsea, TestData.Coffee, TestData.Rocket, TestData.Astronaut];
        (float[] Scores, float[] Features) Run(bool features)
        {
            using var backend = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu, Features = features });
            var batch = new InputBatch(backend.Input, photos.Length) { Count = photos.Length };
            var pre = new Preprocessing.Preprocessor(backend.Input);
            var loader = new ImageLoader();
            for (var i = 0; i < photos.Length; i++)
            {
                using var image = loader.Decode(File.ReadAllBytes(photos[i]), photos[i]);
                pre.Fill(image, batch, i);
            }
            var scores = new float[photos.Length * manifest.Output.Classes];
            var embedding = new float[photos.Length * backend.FeatureWidth];
            backend.Run(batch, scores, embedding);
            Assert.Equal(features ? width : 0, backend.FeatureWidth);
            return (scores, embedding);
        }
        var plain = Run(features: false);
        var with = Run(features: true);
        Assert.Equal(plain.Scores, with.Scores);
        Assert.Contains(with.Features, v => v > 0);
        Assert.All(with.Features, v => Assert.True(float.IsFinite(v) && v >= 0, $"{v}"));
    }

    [Fact]
    public void A_spec_naming_no_tensor_a_map_or_an_integer_tensor_is_refused_with_what_to_name()
    {
        var squeeze = File.ReadAllBytes(ModelFile(TestData.SqueezeNet, "squeezenet1.1.onnx"));
        Assert.Equal("the graph has no tensor 'nope'", Assert.Throws<InvalidDataException>(() => FeatureOutput.Add(squeeze, "nope")).Message);
        Assert.Contains("is a feature map [-1,512,13,13], not pooled: name GlobalAveragePool(fire9/concat_2)",
            Assert.Throws<InvalidDataException>(() => FeatureOutput.Add(squeeze, "fire9/concat_2")).Message);
        Assert.Contains("Conv is not one of GlobalAveragePool, DequantizeLinear, Flatten",
            Assert.Throws<InvalidDataException>(() => FeatureOutput.Add(squeeze, "Conv(fire9/concat_2)")).Message);
        var quant = File.ReadAllBytes(ModelFile(TestData.EdgeTpuQuant, "mobilenet_edgetpu_224_1.0_quant.onnx"));
        Assert.Contains("'t192' is UInt8, not float: for a quantised tensor name DequantizeLinear(TENSOR,SCALE,ZERO_POINT)",
            Assert.Throws<InvalidDataException>(() => FeatureOutput.Add(quant, "t192")).Message);
        Assert.Equal("is not an ONNX model (its protobuf does not parse)",
            Assert.Throws<InvalidDataException>(() => OnnxGraphEditor.Names([0x0A, 0xFF, 0xFF, 0xFF, 0x0F])).Message);
    }
}
