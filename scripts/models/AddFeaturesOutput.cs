#:project ../../src/Classify.Backends.Onnx/Classify.Backends.Onnx.csproj
// Regenerates the bundled ONNX files with their embedding as a second graph output (issue 32), through the same
// editor as `classify models add --features`, and updates their sha256 in model.json and models/SHA256SUMS. Run by
// add-features-output.sh; a file that has the output already is left as it is, so a second run changes nothing.
using System.Security.Cryptography;
using Classify.Backends.Onnx.Graph;

var models = args.Length > 0 ? args[0] : "models";
(string Dir, string File, string Spec)[] edits =
[
    // SqueezeNet's last convolution is its classifier: the pool of the last fire module's 512 channels (13x13) is the embedding.
    ("squeezenet1.1", "squeezenet1.1.onnx", "GlobalAveragePool(fire9/concat_2)"),
    ("squeezenet1.1", "squeezenet1.1-fp16.onnx", "GlobalAveragePool(fire9/concat_2)"),
    // MobileNet-EdgeTPU: the 7x7 average pool of the last 1280 channels feeds the 1x1 convolution that classifies.
    ("mobilenet_edgetpu_224_1.0_float", "mobilenet_edgetpu_224_1.0_float.onnx", "op73_average_pool_2d"),
    ("mobilenet_edgetpu_224_1.0_float", "mobilenet_edgetpu_224_1.0_float_fp16.onnx", "op73_average_pool_2d"),
    // The quantised graphs: the uint8 pool the classifier reads, dequantised (the values it sees).
    ("mobilenet_edgetpu_224_1.0_quant", "mobilenet_edgetpu_224_1.0_quant.onnx", "DequantizeLinear(t192,t192_scale,t192_zp)"),
    ("mobilenet_v2_1.0_224_quant", "mobilenet_v2_1.0_224_quant.onnx", "DequantizeLinear(t169,t169_scale,t169_zp)"),
];
var sums = Path.Combine(models, "SHA256SUMS");
foreach (var (dir, file, spec) in edits)
{
    var path = Path.Combine(models, dir, file);
    var before = File.ReadAllBytes(path);
    var result = FeatureOutput.Add(before, spec);
    var manifest = Path.Combine(models, dir, "model.json");
    var json = File.ReadAllText(manifest);
    if (!json.Contains("\"features\""))
        json = json.Replace("\"classes\": ", $"\"features\": \"{result.Output}\", \"classes\": ");
    else if (!json.Contains($"\"features\": \"{result.Output}\""))
        throw new InvalidDataException($"{manifest}: names another features output than {result.Output}");
    if (!ReferenceEquals(result.Model, before))
    {
        var (oldSha, newSha) = (Sha(before), Sha(result.Model));
        File.WriteAllBytes(path, result.Model);
        json = json.Replace(oldSha, newSha);
        File.WriteAllText(sums, File.ReadAllText(sums).Replace(oldSha, newSha));
        Console.WriteLine($"{path}: {result.Output} ({result.Width} {(result.Half ? "float16" : "float32")} per image) added; sha256 {oldSha} -> {newSha}");
    }
    else
    {
        Console.WriteLine($"{path}: has {result.Output} already ({result.Width} per image)");
    }
    File.WriteAllText(manifest, json);
}

static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
