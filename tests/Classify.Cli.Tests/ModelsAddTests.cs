using System.Text.Json.Nodes;
using Xunit;

namespace Classify.Tests;

/// <summary>`classify models add`: a user's own ONNX file gets a working manifest from a preset and the model itself.</summary>
public sealed class ModelsAddTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string CopyOf(string model, string file)
    {
        var path = Path.Combine(_dir.Path, "mine.onnx");
        File.Copy(Path.Combine(TestData.ModelFolder(model), file), path);
        return path;
    }

    [Fact]
    public void A_bare_onnx_file_gets_an_error_naming_models_add()
    {
        var model = CopyOf(TestData.EdgeTpuFloat, "mobilenet_edgetpu_224_1.0_float.onnx");
        var run = ClassifyProcess.Run("--model", model, TestData.Chelsea);
        Assert.Equal(12, run.ExitCode);
        Assert.Contains($"classify models add {model} --preset", run.Stderr);
    }

    [Fact]
    public void The_manifest_is_read_from_the_model_and_the_preset_and_classifies()
    {
        var model = CopyOf(TestData.EdgeTpuFloat, "mobilenet_edgetpu_224_1.0_float.onnx");
        var add = ClassifyProcess.Run("models", "add", model, "--preset", "tf-mobilenet");
        Assert.True(add.ExitCode == 0, add.Stderr);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir.Path, "model.json")))!;
        Assert.Equal("mine", manifest["name"]!.GetValue<string>());
        Assert.Equal("input", manifest["input"]!["name"]!.GetValue<string>());
        Assert.Equal("nchw", manifest["input"]!["layout"]!.GetValue<string>());
        Assert.Equal(224, manifest["input"]!["width"]!.GetValue<int>());
        Assert.Equal("central_crop", manifest["input"]!["resize"]!["mode"]!.GetValue<string>());
        Assert.Equal("probabilities", manifest["output"]!["kind"]!.GetValue<string>()); // found by running it: a softmax
        Assert.Equal(1001, manifest["output"]!["classes"]!.GetValue<int>());
        Assert.Equal(1, manifest["labels"]!["firstClassOutput"]!.GetValue<int>()); // 1001 outputs: background first
        Assert.Equal(64, manifest["files"]!["onnx"]!["sha256"]!.GetValue<string>().Length);

        var run = ClassifyProcess.Run("--model", model, TestData.Chelsea, "-n", "1");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.StartsWith(TestData.EgyptianCat, run.Stdout);
        var jsonl = ClassifyProcess.Run("--model", model, TestData.Chelsea, "-n", "1", "-f", "jsonl");
        Assert.Contains("\"synset\":\"n02124075\"", jsonl.Stdout); // the WordNet ids come with the ImageNet labels
        Assert.Equal(2, ClassifyProcess.Run("models", "add", model, "--preset", "tf-mobilenet").ExitCode); // no silent overwrite
    }

    [Fact]
    public void A_manifest_without_sha256_is_accepted_and_a_uint8_model_takes_raw_pixels()
    {
        var model = CopyOf(TestData.EdgeTpuQuant, "mobilenet_edgetpu_224_1.0_quant.onnx");
        Assert.Equal(0, ClassifyProcess.Run("models", "add", model, "--preset", "torchvision", "--name", "edgetpu-q").ExitCode);
        var path = Path.Combine(_dir.Path, "model.json");
        var manifest = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal("nhwc", manifest["input"]!["layout"]!.GetValue<string>());
        Assert.Equal("uint8", manifest["input"]!["elementType"]!.GetValue<string>());
        Assert.Equal(0f, manifest["input"]!["mean"]![0]!.GetValue<float>());
        manifest["files"]!["onnx"]!.AsObject().Remove("sha256");
        File.WriteAllText(path, manifest.ToJsonString());
        var run = ClassifyProcess.Run("--model", model, TestData.Coffee, "-n", "1", "-f", "jsonl");
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains(TestData.Espresso, run.Stdout);
    }

    [Fact]
    public void Outputs_that_are_not_imagenet_need_labels()
    {
        var model = CopyOf(TestData.EdgeTpuFloat, "mobilenet_edgetpu_224_1.0_float.onnx");
        var labels = Path.Combine(_dir.Path, "short.txt");
        File.WriteAllLines(labels, ["a", "b"]);
        var run = ClassifyProcess.Run("models", "add", model, "--preset", "tf-mobilenet", "--labels", labels);
        Assert.Equal(13, run.ExitCode); // 2 names for 1001 outputs
        Assert.False(File.Exists(Path.Combine(_dir.Path, "model.json")));
        Assert.Equal(2, ClassifyProcess.Run("models", "add", model, "--preset", "keras").ExitCode);
    }
}
