#:project ../../src/Classify.Backends.Onnx/Classify.Backends.Onnx.csproj
// Regenerates the bundled ONNX files with their embedding as a second graph output (issue 32), through the same
// editor as `classify models add --features`, and updates their sha256 in model.json and models/SHA256SUMS. Run by
// add-features-output.sh; a file that has the output already is left as it is, so a second run changes nothing.
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
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

// The TorchScript twins (traced with PyTorch 1.13): a .pt is a zip whose code/ folder holds the TorchScript source that
// libtorch compiles on load. Their forward is edited to return (scores, embedding), the same ops on the same tensors as
// before plus the pool, and the edited file's debug_pkl (source ranges of the old text) is dropped. TorchBackend takes
// the pair's first element as the scores, so the classification is what it was.
(string Dir, string File, string Entry, string Old, string New)[] twins =
[
    ("squeezenet1.1", "squeezenet1.1.pt", "squeezenet1.1/code/__torch__.py",
        """
    x: Tensor) -> Tensor:
    net = self.net
    _0 = torch.softmax((net).forward(x, ), 1)
    return _0
""",
        """
    x: Tensor) -> Tuple[Tensor, Tensor]:
    net = self.net
    features = net.features
    classifier = net.classifier
    _f = (features).forward(x, )
    _0 = torch.softmax(torch.flatten((classifier).forward(_f, ), 1), 1)
    return (_0, torch.flatten(torch.adaptive_avg_pool2d(_f, [1, 1]), 1))
"""),
    ("mobilenet_edgetpu_224_1.0_float", "mobilenet_edgetpu_224_1.0_float.pt", "mobilenet_edgetpu_224_1.0_float/code/__torch__.py",
        """
  def forward(self: __torch__.Twin,
    x: Tensor) -> Tensor:
""",
        """
  def forward(self: __torch__.Twin,
    x: Tensor) -> Tuple[Tensor, Tensor]:
"""),
    ("mobilenet_edgetpu_224_1.0_float", "mobilenet_edgetpu_224_1.0_float.pt", "mobilenet_edgetpu_224_1.0_float/code/__torch__.py",
        """
    return torch.softmax(y153, -1)
""",
        """
    return (torch.softmax(y153, -1), torch.flatten(y150, 1))
"""),
];
foreach (var (dir, file, entry, old, replacement) in twins)
{
    var path = Path.Combine(models, dir, file);
    var before = File.ReadAllBytes(path);
    var entries = new List<(string Name, byte[] Data)>();
    using (var zip = new ZipArchive(new MemoryStream(before), ZipArchiveMode.Read))
        foreach (var e in zip.Entries)
        {
            using var s = e.Open();
            var data = new MemoryStream();
            s.CopyTo(data);
            entries.Add((e.FullName, data.ToArray()));
        }
    var code = Encoding.UTF8.GetString(entries.Single(e => e.Name == entry).Data);
    if (code.Contains(replacement))
    {
        Console.WriteLine($"{path}: {entry} returns the embedding already");
        continue;
    }
    if (!code.Contains(old))
        throw new InvalidDataException($"{path}: {entry} does not hold the forward this script edits");
    code = code.Replace(old, replacement);
    var after = new MemoryStream();
    using (var zip = new ZipArchive(after, ZipArchiveMode.Create, leaveOpen: true))
        foreach (var (name, data) in entries)
        {
            if (name == entry + ".debug_pkl") continue;
            var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
            e.LastWriteTime = new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
            using var s = e.Open();
            s.Write(name == entry ? Encoding.UTF8.GetBytes(code) : data);
        }
    var bytes = after.ToArray();
    var (oldSha, newSha) = (Sha(before), Sha(bytes));
    File.WriteAllBytes(path, bytes);
    var manifest = Path.Combine(models, dir, "model.json");
    File.WriteAllText(manifest, File.ReadAllText(manifest).Replace(oldSha, newSha));
    File.WriteAllText(sums, File.ReadAllText(sums).Replace(oldSha, newSha));
    Console.WriteLine($"{path}: forward returns (scores, embedding); sha256 {oldSha} -> {newSha}");
}

static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
