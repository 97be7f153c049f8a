using Classify.Inference;
using Classify.Output;
using Classify.Pipeline;

namespace Classify.Tests.Output;

public sealed class ShardMergeTests : IDisposable
{
    private readonly TempDir _dir = new();
    private static readonly Provenance Made = new("squeezenet1.1", "33147f1f4686c6340ca748e14629627c6c96084e0ca0cb037aeca355349f6164", "1.0.0+252f5c5eefc9");
    private static readonly RunInfo Info = new(Made, "onnx", "cpu", 2);

    public void Dispose() => _dir.Dispose();

    private static readonly ImageResult[] Results =
    [
        ImageResult.Ok("chelsea.png", [new Prediction("Egyptian cat", 285, 0.921517f, "n02124075"), new Prediction("tabby, tabby cat", 281, 0.057396f, "n02123045")]),
        ImageResult.Ok("coffee.png", [new Prediction("espresso", 967, 0.978411f), new Prediction("cup", 968, 0.010233f)]),
        ImageResult.Failed("broken.png", new ClassifyException(ExitCode.ImageCorrupt, "broken.png", "not a valid PNG (truncated)")),
        ImageResult.Ok("rocket.jpg", [new Prediction("missile", 657, 0.55f), new Prediction("projectile, missile", 744, 0.41f)]),
        ImageResult.Ok("a \"quoted\", name.png", [new Prediction("space shuttle", 812, 0.33f), new Prediction("missile", 657, 0.2f)]),
    ];

    private static string Render(OutputFormat format, IEnumerable<ImageResult> results, RunInfo? info = null)
    {
        var text = new StringWriter { NewLine = "\n" };
        var writer = ResultWriter.Create(format, text, info ?? Info, singleInput: false);
        foreach (var r in results) writer.Write(r);
        writer.Complete();
        return text.ToString();
    }

    /// <summary>Writes the results as 3 shards the way classify-array.sbatch names them.</summary>
    private List<string> WriteShards(int count = 3, RunInfo? info = null)
    {
        var paths = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var path = _dir.File($"results.shard-{i:D4}-of-{count:D4}.jsonl");
            File.WriteAllText(path, Render(OutputFormat.Jsonl, new Classify.Inputs.Shard(i, count).Slice(Results), info));
            paths.Add(path);
        }
        return paths;
    }

    private ClassifyException MergeFails(IReadOnlyList<string> shards)
    {
        var e = Assert.Throws<ClassifyException>(() => ShardMerge.Merge(shards, _dir.File("merged.jsonl"), OutputFormat.Jsonl));
        Assert.False(File.Exists(_dir.File("merged.jsonl")));
        return e;
    }

    [Fact]
    public void Merged_jsonl_is_the_shards_concatenated_byte_for_byte()
    {
        var shards = WriteShards();
        var merged = _dir.File("merged.jsonl");
        Assert.Equal(Results.Length, ShardMerge.Merge(shards, merged, OutputFormat.Jsonl));
        Assert.Equal(string.Concat(shards.Select(File.ReadAllText)), File.ReadAllText(merged));
        Assert.Equal(Render(OutputFormat.Jsonl, Results), File.ReadAllText(merged));
    }

    [Theory]
    [InlineData(OutputFormat.Csv)]
    [InlineData(OutputFormat.Text)]
    public void Merging_into_another_format_equals_writing_that_format_directly(OutputFormat format)
    {
        var merged = _dir.File("merged.out");
        ShardMerge.Merge(WriteShards(), merged, format);
        Assert.Equal(Render(format, Results), File.ReadAllText(merged));
    }

    [Fact]
    public void Merged_json_is_a_json_run_with_its_provenance_and_backend_and_device_unknown()
    {
        // Records carry model, model_sha256 and classify_version; backend and device they do not (see ShardMerge).
        var merged = _dir.File("merged.json");
        ShardMerge.Merge(WriteShards(), merged, OutputFormat.Json);
        Assert.Equal(Render(OutputFormat.Json, Results, Info with { Backend = "unknown", Device = "unknown" }), File.ReadAllText(merged));
        Assert.Contains("\"synset\": \"n02124075\"", File.ReadAllText(merged));
    }

    [Theory]
    [InlineData("squeezenet1.1", "cec5f808b7e3c59026a88bdc641b5c5f13a76b1c748779caa4486c3462c283c4", "1.0.0+252f5c5eefc9")] // its fp16 file
    [InlineData("mobilenet_v2_1.0_224_quant", "33147f1f4686c6340ca748e14629627c6c96084e0ca0cb037aeca355349f6164", "1.0.0+252f5c5eefc9")]
    [InlineData("squeezenet1.1", "33147f1f4686c6340ca748e14629627c6c96084e0ca0cb037aeca355349f6164", "1.0.0+0123456789ab")]
    public void A_shard_made_by_another_model_file_or_build_is_refused_in_every_format(string model, string sha, string version)
    {
        var shards = WriteShards();
        File.WriteAllText(shards[1], Render(OutputFormat.Jsonl, new Classify.Inputs.Shard(1, 3).Slice(Results), Info with { Made = new Provenance(model, sha, version) }));
        foreach (var format in new[] { OutputFormat.Jsonl, OutputFormat.Json, OutputFormat.Csv })
        {
            var output = _dir.File("merged.out");
            var e = Assert.Throws<ClassifyException>(() => ShardMerge.Merge(shards, output, format));
            Assert.Equal((ExitCode.ShardInvalid, shards[1]), (e.ExitCode, e.File));
            Assert.Contains($"line 1 was made by model {model} (model_sha256 {sha}, classify {version}), but {shards[0]} by model squeezenet1.1", e.Message);
            Assert.False(File.Exists(output));
        }
    }

    [Fact]
    public void Shards_of_a_build_that_recorded_no_provenance_still_merge_but_not_with_newer_ones()
    {
        var old = Info with { Made = null };
        var shards = WriteShards(info: old);
        Assert.DoesNotContain("model", File.ReadAllText(shards[0]));
        var merged = _dir.File("merged.json");
        ShardMerge.Merge(shards, merged, OutputFormat.Json);
        Assert.Equal(Render(OutputFormat.Json, Results, old with { Backend = "unknown", Device = "unknown" }), File.ReadAllText(merged));

        File.WriteAllText(shards[2], Render(OutputFormat.Jsonl, new Classify.Inputs.Shard(2, 3).Slice(Results)));
        var e = MergeFails(shards);
        Assert.Equal(shards[2], e.File);
        Assert.Contains("but " + shards[0] + " by a classify build that did not record its model", e.Message);
    }

    [Fact]
    public void An_empty_shard_is_a_shard_without_images()
    {
        var shards = WriteShards(count: 7);
        Assert.Equal(0, new FileInfo(shards[6]).Length);
        Assert.Equal(Results.Length, ShardMerge.Merge(shards, _dir.File("merged.jsonl"), OutputFormat.Jsonl));
    }

    [Fact]
    public void A_gap_in_the_shard_set_names_the_missing_file()
    {
        var shards = WriteShards();
        shards.RemoveAt(1);
        var e = MergeFails(shards);
        Assert.Equal(ExitCode.ShardInvalid, e.ExitCode);
        Assert.Equal(_dir.File("results.shard-0001-of-0003.jsonl"), e.File);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void A_shard_file_that_does_not_exist_is_named()
    {
        var shards = WriteShards();
        File.Delete(shards[2]);
        var e = MergeFails(shards);
        Assert.Equal(ExitCode.ShardInvalid, e.ExitCode);
        Assert.Equal(shards[2], e.File);
    }

    [Fact]
    public void A_truncated_shard_is_reported_with_its_line()
    {
        var shards = WriteShards();
        var text = File.ReadAllText(shards[1]);
        File.WriteAllText(shards[1], text[..(text.Length - 20)]);
        var e = MergeFails(shards);
        Assert.Equal(ExitCode.ShardInvalid, e.ExitCode);
        Assert.Equal(shards[1], e.File);
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void A_last_line_without_its_newline_counts_as_truncated()
    {
        var shards = WriteShards();
        File.WriteAllText(shards[0], File.ReadAllText(shards[0]).TrimEnd('\n'));
        Assert.Contains("truncated", MergeFails(shards).Message);
    }

    [Fact]
    public void A_resume_journal_is_not_taken_for_a_shard()
    {
        var shards = WriteShards();
        using (ResultJournal.Open(shards[2], "run", ["x.png"], 1, _ => { })) { }
        File.Move(shards[2] + ResultJournal.Suffix, shards[2], overwrite: true);
        Assert.Contains("resume journal", MergeFails(shards).Message);
    }

    [Fact]
    public void Shards_of_different_splits_are_refused()
    {
        var shards = WriteShards();
        var stray = _dir.File("results.shard-0001-of-0004.jsonl");
        File.Copy(shards[1], stray);
        shards[1] = stray;
        Assert.Contains("different runs", MergeFails(shards).Message);
    }

    [Fact]
    public void The_same_shard_twice_is_refused()
    {
        var shards = WriteShards();
        shards.Add(shards[0]);
        Assert.Contains("is given twice", MergeFails(shards).Message);
    }

    [Fact]
    public void Two_files_claiming_the_same_shard_are_refused()
    {
        var shards = WriteShards();
        var copy = Path.Combine(_dir.Path, "copy");
        Directory.CreateDirectory(copy);
        var twin = Path.Combine(copy, Path.GetFileName(shards[0]));
        File.Copy(shards[0], twin);
        shards.Add(twin);
        Assert.Contains("is also given as", MergeFails(shards).Message);
    }

    [Fact]
    public void Files_named_freely_are_merged_in_the_order_given()
    {
        var a = _dir.File("b-first.jsonl");
        var b = _dir.File("a-second.jsonl");
        File.WriteAllText(a, Render(OutputFormat.Jsonl, Results[..2]));
        File.WriteAllText(b, Render(OutputFormat.Jsonl, Results[2..]));
        var merged = _dir.File("merged.jsonl");
        ShardMerge.Merge([a, b], merged, OutputFormat.Jsonl);
        Assert.Equal(Render(OutputFormat.Jsonl, Results), File.ReadAllText(merged));
    }

    [Theory]
    [InlineData("{\"file\":\"x.png\",\"predictions\":[{\"label\":\"a\",\"class\":1,\"score\":0.5}]}garbage", "line 2 is not a classify result")]
    [InlineData("{\"file\":\"x.png\",\"predictions\":[]}", "line 2 is not a classify result")]
    [InlineData("{\"file\":\"x.png\",\"predictions\":[{\"label\":\"a\",\"class\":1,\"score\":1e999}]}", "line 2 is not a classify result")]
    public void Lines_classify_could_not_have_written_are_refused_not_copied(string forged, string problem)
    {
        // Merge copies jsonl lines byte for byte, so it must have parsed every byte of each: trailing bytes after the
        // object, a result without predictions (it vanished from a CSV merge) and an infinite score are refused.
        var shards = WriteShards();
        var lines = File.ReadAllLines(shards[1]).ToList();
        lines.Insert(1, forged);
        File.WriteAllLines(shards[1], lines);
        var output = _dir.File("merged.jsonl");

        foreach (var format in new[] { OutputFormat.Jsonl, OutputFormat.Json, OutputFormat.Csv })
        {
            var e = Assert.Throws<ClassifyException>(() => ShardMerge.Merge(shards, output, format));
            Assert.Equal(ExitCode.ShardInvalid, e.ExitCode);
            Assert.Equal(shards[1], e.File);
            Assert.Contains(problem, e.Message);
            Assert.False(File.Exists(output));
        }
    }

    [Fact]
    public void A_device_or_an_endless_line_is_not_a_shard()
    {
        var device = Assert.Throws<ClassifyException>(() => ShardMerge.Merge(["/dev/zero"], _dir.File("m.jsonl"), OutputFormat.Jsonl));
        Assert.Equal((ExitCode.ShardInvalid, "is not a regular file, so not a finished shard"), (device.ExitCode, device.Message));

        var huge = _dir.File("huge.jsonl");
        using (var f = File.Create(huge))
            f.SetLength(LineScanner.MaxLineBytes + 10); // zeros, no newline
        foreach (var format in new[] { OutputFormat.Jsonl, OutputFormat.Json })
        {
            var e = Assert.Throws<ClassifyException>(() => ShardMerge.Merge([huge], _dir.File("m.jsonl"), format));
            Assert.Equal(ExitCode.ShardInvalid, e.ExitCode);
            Assert.Contains("a line is over 16 MiB: not a file of classify results", e.Message);
        }
    }
}
