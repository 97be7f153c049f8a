using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Classify.Output.Features;

namespace Classify.Tests;

/// <summary>--features (issue 32): each image's embedding from the same pass, in a .npy beside the results, row i for
/// record i, through the real binary on the real photos and bundled models.</summary>
public sealed class FeaturesTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly string[] Photos = [TestData.Chelsea, TestData.Coffee, TestData.Rocket, TestData.Astronaut];

    /// <summary>The rows of a float32 or float16 .npy classify wrote, as floats (its header checked).</summary>
    private static (NpyHeader Header, float[][] Rows) Read(string npy)
    {
        var header = NpyHeader.Read(npy);
        var bytes = File.ReadAllBytes(npy).AsSpan(NpyHeader.Length);
        var rows = new float[header.Rows][];
        for (var r = 0; r < rows.Length; r++)
        {
            rows[r] = new float[header.Width];
            for (var i = 0; i < header.Width; i++)
            {
                var at = (int)(r * header.RowBytes) + i * header.ElementSize;
                rows[r][i] = header.Dtype == FeaturesDtype.Float16
                    ? (float)System.Buffers.Binary.BinaryPrimitives.ReadHalfLittleEndian(bytes[at..])
                    : System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes[at..]);
            }
        }
        return (header, rows);
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    private static float MaxGap(float[][] a, float[][] b) =>
        a.Zip(b).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));

    private static (int ExitCode, string Stdout, string Stderr) Python(string script, params string[] args)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }

    [Fact]
    public void Rows_follow_the_records_a_failed_image_is_a_zero_row_and_numpy_loads_the_file()
    {
        var bad = _dir.File("bad.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        var output = _dir.File("res.jsonl");
        var run = ClassifyProcess.Run("--features", "--features_dtype", "float32", "-o", output, TestData.Chelsea, bad, TestData.Coffee);
        Assert.Equal(ExitCode.SomeImagesFailed, run.ExitCode);
        var npy = _dir.File("res.features.npy");
        Assert.Contains($"wrote 3 embeddings of 1280 values (float32) to {npy}", run.Stderr);
        var records = File.ReadAllLines(output);
        Assert.True(JsonDocument.Parse(records[1]).RootElement.TryGetProperty("error", out _));
        var (header, rows) = Read(npy);
        Assert.Equal(new NpyHeader(FeaturesDtype.Float32, 3, 1280), header);
        Assert.All(rows[1], v => Assert.Equal(0f, v));
        Assert.Contains(rows[0], v => v > 0);
        Assert.Contains(rows[2], v => v > 0);
        // numpy itself (Debian's python3-numpy) memory-maps it and sees the same rows.
        var numpy = Python("import sys, numpy as np; a = np.load(sys.argv[1], mmap_mode='r'); " +
            "print(a.dtype, a.shape, int((a[1] == 0).all()), repr(float(a[0].astype('float64').sum())))", npy);
        Assert.True(numpy.ExitCode == 0, numpy.Stderr);
        var said = numpy.Stdout.Trim();
        Assert.StartsWith("float32 (3, 1280) 1 ", said);
        var sum = rows[0].Sum(v => (double)v);
        Assert.Equal(sum, double.Parse(said[(said.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture), 1e-6 * sum);
    }

    [Fact]
    public void Embeddings_are_the_same_at_every_batch_size()
    {
        float[][] Run(string batch)
        {
            var output = _dir.File($"b{batch}.jsonl");
            Assert.Equal(0, ClassifyProcess.Run([.. Photos, "--features", "--features_dtype", "float32", "--batch_size", batch, "-o", output]).ExitCode);
            return Read(_dir.File($"b{batch}.features.npy")).Rows;
        }
        var one = Run("1");
        var three = Run("3");
        Assert.Equal(4, one.Length);
        // Measured here: equal bit for bit on the CPU; 1e-5 leaves room for a GPU's batch-dependent kernels.
        Assert.True(MaxGap(one, three) <= 1e-5f, $"batch 1 and 3 differ by {MaxGap(one, three)}");
    }

    [Fact]
    public void The_fp16_file_gives_embeddings_near_the_float32_files()
    {
        // The onnx-fp16 file (what --fp16 runs on CUDA) as a model of its own, on the CPU; its embedding comes out as float16.
        var dir = Directory.CreateDirectory(_dir.File("fp16")).FullName;
        ModelCopy.Into(dir, TestData.EdgeTpuFloat, m => m["files"] = new JsonObject { ["onnx"] = m["files"]!["onnx-fp16"]!.DeepClone() });
        float[][] Run(string name, params string[] model)
        {
            var output = _dir.File($"{name}.jsonl");
            Assert.Equal(0, ClassifyProcess.Run([.. Photos, .. model, "--features", "--features_dtype", "float32", "-o", output]).ExitCode);
            return Read(_dir.File($"{name}.features.npy")).Rows;
        }
        var full = Run("fp32");
        var half = Run("fp16", "--model", dir);
        // Measured here on these four photos: at most 0.0133 apart on values up to 4.89 (float16 weights and arithmetic),
        // cosine at least 0.999995. The test allows about twice the gap.
        Assert.True(MaxGap(full, half) < 0.03f, $"fp16 and fp32 embeddings differ by {MaxGap(full, half)}");
        Assert.All(full.Zip(half), p => Assert.True(Cosine(p.First, p.Second) > 0.9999, $"cosine {Cosine(p.First, p.Second)}"));
    }

    [Fact]
    public void Two_crops_of_one_photo_are_closer_than_two_photos()
    {
        var left = _dir.File("left.png");
        var right = _dir.File("right.png");
        var made = Python("import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB'); w, h = im.size; " +
            "im.crop((0, 0, int(w * .8), int(h * .8))).save(sys.argv[2]); im.crop((int(w * .2), int(h * .2), w, h)).save(sys.argv[3])",
            TestData.Chelsea, left, right);
        Assert.True(made.ExitCode == 0, made.Stderr);
        var output = _dir.File("crops.jsonl");
        Assert.Equal(0, ClassifyProcess.Run("--features", "-o", output, left, right, TestData.Coffee, TestData.Astronaut).ExitCode);
        var rows = Read(_dir.File("crops.features.npy")).Rows;
        // Measured here: the two crops 0.81 apart in cosine, the crops and the other photos 0.10 to 0.28.
        var crops = Cosine(rows[0], rows[1]);
        foreach (var other in new[] { Cosine(rows[0], rows[2]), Cosine(rows[1], rows[2]), Cosine(rows[0], rows[3]), Cosine(rows[2], rows[3]) })
            Assert.True(crops > other + 0.1, $"crops {crops:F3}, different photos {other:F3}");
    }

    [Theory]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public void A_sharded_run_merged_equals_one_run_results_and_embeddings(string format)
    {
        var bad = _dir.File("bad.png");
        File.WriteAllBytes(bad, [0x89, 0x50, 0x4E, 0x47]);
        string[] inputs = [.. Photos, bad];
        for (var k = 0; k < 3; k++)
            ClassifyProcess.Run([.. inputs, "--features", "--shard", $"{k}/3", "-o", _dir.File($"res.{{shard}}.{format}")]);
        var shards = Enumerable.Range(0, 3).Select(k => _dir.File($"res.shard-{k:D4}-of-0003.{format}")).ToArray();
        Assert.All(shards, s => Assert.True(File.Exists(FeaturesFile.PathFor(s)), s));
        Assert.Equal(0, ClassifyProcess.Run(["merge", "-o", _dir.File($"merged.{format}"), .. shards]).ExitCode);
        ClassifyProcess.Run([.. inputs, "--features", "-o", _dir.File($"one.{format}")]);
        Assert.Equal(File.ReadAllBytes(_dir.File($"one.{format}")), File.ReadAllBytes(_dir.File($"merged.{format}")));
        Assert.Equal(File.ReadAllBytes(_dir.File("one.features.npy")), File.ReadAllBytes(_dir.File("merged.features.npy")));
        Assert.Equal(5, NpyHeader.Read(_dir.File("merged.features.npy")).Rows);

        // A shard without its embeddings, with another shard's row count, or with another shard's rows of the same
        // length (the trailer's features_sha256 tells them apart) is refused (exit 30) and nothing is written.
        var kept = File.ReadAllBytes(FeaturesFile.PathFor(shards[2]));
        File.Delete(FeaturesFile.PathFor(shards[2]));
        var missing = ClassifyProcess.Run(["merge", "-o", _dir.File($"again.{format}"), .. shards]);
        Assert.Equal(ExitCode.ShardInvalid, missing.ExitCode);
        Assert.Contains($"missing: {shards[2]} was run with --features, but its embeddings are not beside it", missing.Stderr);
        File.Copy(FeaturesFile.PathFor(shards[0]), FeaturesFile.PathFor(shards[2]));
        var wrong = ClassifyProcess.Run(["merge", "-o", _dir.File($"again.{format}"), .. shards]);
        Assert.Equal(ExitCode.ShardInvalid, wrong.ExitCode);
        Assert.Contains("holds 2 embeddings, but", wrong.Stderr);
        File.WriteAllBytes(FeaturesFile.PathFor(shards[2]), kept);
        File.Copy(FeaturesFile.PathFor(shards[0]), FeaturesFile.PathFor(shards[1]), overwrite: true);
        var swapped = ClassifyProcess.Run(["merge", "-o", _dir.File($"again.{format}"), .. shards]);
        Assert.Equal(ExitCode.ShardInvalid, swapped.ExitCode);
        Assert.Contains($"{FeaturesFile.PathFor(shards[1])}: holds other embeddings than its shard's trailer names", swapped.Stderr);
        Assert.False(File.Exists(_dir.File($"again.{format}")) || File.Exists(_dir.File("again.features.npy")));
    }

    [Fact]
    public async Task A_killed_run_resumes_to_the_same_embeddings()
    {
        // Enough 3000x2000 photos that the run is still going when the journal has its first records (twelve rotations,
        // hard-linked up to 48: with DCT scaling one decodes in a few milliseconds, and twelve could all be done between
        // two polls); SIGKILL, as the OOM killer or a node failure would, then the same command again.
        var photos = Directory.CreateDirectory(_dir.File("big")).FullName;
        var made = Python("import os, sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB').resize((3000, 2000)); " +
            "[im.rotate(i * 3).save(f'{sys.argv[2]}/p{i:02}.jpg', quality=90) for i in range(12)]; " +
            "[os.link(f'{sys.argv[2]}/p{i % 12:02}.jpg', f'{sys.argv[2]}/p{i:02}.jpg') for i in range(12, 48)]", TestData.Chelsea, photos);
        Assert.True(made.ExitCode == 0, made.Stderr);
        var output = _dir.File("killed.jsonl");
        string[] args = [photos, "--features", "--batch_size", "1", "--threads", "1", "-o", output];
        var (run, _) = await InterruptedRun.StartUntilJournaled(args, output, records: 3);
        using (run)
        {
            run.Kill();
            await run.WaitForExitAsync();
        }
        Assert.False(File.Exists(FeaturesFile.PathFor(output)));
        var resumed = ClassifyProcess.Run(args);
        Assert.Equal(0, resumed.ExitCode);
        Assert.Contains("resuming:", resumed.Stderr);
        var whole = _dir.File("whole.jsonl");
        Assert.Equal(0, ClassifyProcess.Run([photos, "--features", "--batch_size", "1", "-o", whole]).ExitCode);
        Assert.Equal(File.ReadAllBytes(whole), File.ReadAllBytes(output));
        Assert.Equal(File.ReadAllBytes(FeaturesFile.PathFor(whole)), File.ReadAllBytes(FeaturesFile.PathFor(output)));
    }

    [Fact]
    public void Models_add_features_exposes_a_users_tensor_and_a_wrong_name_is_a_clear_error()
    {
        var model = _dir.File("mine.onnx");
        File.Copy(Path.Combine(TestData.ModelFolder(TestData.EdgeTpuQuant), "mobilenet_edgetpu_224_1.0_quant.onnx"), model);
        var wrong = ClassifyProcess.Run("models", "add", model, "--preset", "tf-mobilenet", "--features", "no_such_tensor");
        Assert.Equal(ExitCode.ManifestInvalid, wrong.ExitCode);
        Assert.Equal($"classify: {model}: --features no_such_tensor: the graph has no tensor 'no_such_tensor'", wrong.Stderr.Trim());
        var map = ClassifyProcess.Run("models", "add", model, "--preset", "tf-mobilenet", "--features", "t191_f");
        Assert.Equal(ExitCode.ManifestInvalid, map.ExitCode);
        Assert.Contains("is a feature map [1,1280,7,7], not pooled: name GlobalAveragePool(t191_f)", map.Stderr);

        // The float pool before its QuantizeLinear replaces the bundled file's dequantised one.
        var add = ClassifyProcess.Run("models", "add", model, "--preset", "tf-mobilenet", "--features", "t192_f");
        Assert.True(add.ExitCode == 0, add.Stderr);
        Assert.Contains("added the graph output 't192_f' (1280 float32 values per image)", add.Stderr);
        Assert.Equal("t192_f", JsonNode.Parse(File.ReadAllText(_dir.File("model.json")))!["output"]!["features"]!.GetValue<string>());
        var run = ClassifyProcess.Run("--model", model, "--features", "-n", "1", "-o", _dir.File("mine.jsonl"), TestData.Chelsea);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains(TestData.EgyptianCat, File.ReadAllText(_dir.File("mine.jsonl")));
        Assert.Equal(new NpyHeader(FeaturesDtype.Float16, 1, 1280), NpyHeader.Read(_dir.File("mine.features.npy")));
    }

    [Fact]
    public void Features_without_a_results_file_or_an_embedding_is_a_clear_error()
    {
        var stdout = ClassifyProcess.Run("--features", TestData.Chelsea);
        Assert.Equal(ExitCode.Usage, stdout.ExitCode);
        Assert.Contains("--features writes the embeddings beside the results file", stdout.Stderr);
        Assert.Equal(ExitCode.Usage, ClassifyProcess.Run("--features_dtype", "float32", "-o", _dir.File("x.jsonl"), TestData.Chelsea).ExitCode);
        // A model that names no embedding (a user's manifest without output.features).
        var dir = Directory.CreateDirectory(_dir.File("plain")).FullName;
        ModelCopy.Into(dir, TestData.SqueezeNet, m => m["output"]!.AsObject().Remove("features"));
        var none = ClassifyProcess.Run("--model", dir, "--features", "-o", _dir.File("n.jsonl"), TestData.Chelsea);
        Assert.Equal(ExitCode.ManifestInvalid, none.ExitCode);
        Assert.Contains("--features: model squeezenet1.1 names no embedding (output.features in model.json)", none.Stderr);
    }
}
