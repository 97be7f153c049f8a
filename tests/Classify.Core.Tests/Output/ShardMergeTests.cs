using Classify.Inference;
using Classify.Inputs;
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

    private static RunInfo ShardInfo(int index, int count, RunInfo? info = null, IReadOnlyList<ImageResult>? all = null) =>
        (info ?? Info) with { Split = ShardSplit.Of(new Shard(index, count), [.. (all ?? Results).Select(r => r.File)]) };

    /// <summary>Shard <paramref name="index"/> of <paramref name="count"/> as a sharded classify run writes it.</summary>
    private static string RenderShard(int index, int count, RunInfo? info = null, IReadOnlyList<ImageResult>? all = null) =>
        Render(OutputFormat.Jsonl, new Shard(index, count).Slice(all ?? Results), ShardInfo(index, count, info, all));

    /// <summary>Writes the results as shards the way classify-array.sbatch names them.</summary>
    private List<string> WriteShards(int count = 3, RunInfo? info = null)
    {
        var paths = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var path = _dir.File($"results.shard-{i:D4}-of-{count:D4}.jsonl");
            File.WriteAllText(path, RenderShard(i, count, info));
            paths.Add(path);
        }
        return paths;
    }

    private ClassifyException MergeFails(IReadOnlyList<string> shards)
    {
        var e = Assert.Throws<ClassifyException>(() => ShardMerge.Merge(shards, _dir.File("merged.jsonl"), OutputFormat.Jsonl));
        Assert.Equal(ExitCode.ShardInvalid, e.ExitCode);
        Assert.False(File.Exists(_dir.File("merged.jsonl")));
        return e;
    }

    [Fact]
    public void Merged_jsonl_is_one_runs_jsonl_byte_for_byte()
    {
        var shards = WriteShards();
        Assert.EndsWith("\"inputs\":5,\"inputs_sha256\":\"" + ShardSplit.Of(Shard.Whole, [.. Results.Select(r => r.File)]).InputsSha256
            + "\",\"top_k\":2,\"backend\":\"onnx\",\"device\":\"cpu\"}}\n", File.ReadAllText(shards[0]));
        var merged = _dir.File("merged.jsonl");
        Assert.Equal(Results.Length, ShardMerge.Merge(shards, merged, OutputFormat.Jsonl));
        Assert.Equal(Render(OutputFormat.Jsonl, Results), File.ReadAllText(merged));
    }

    [Theory]
    [InlineData(OutputFormat.Csv)]
    [InlineData(OutputFormat.Text)]
    [InlineData(OutputFormat.Json)]
    public void Merging_into_another_format_equals_writing_that_format_directly(OutputFormat format)
    {
        // json too: backend and device come from the trailers, which agree here.
        var merged = _dir.File("merged.out");
        ShardMerge.Merge(WriteShards(), merged, format);
        Assert.Equal(Render(format, Results), File.ReadAllText(merged));
    }

    [Theory]
    [InlineData(OutputFormat.Text, "0.06360")]
    [InlineData(OutputFormat.Csv, "0.063605")]
    public void Scores_reach_the_merge_unrounded_so_text_is_not_rounded_twice(OutputFormat format, string printed)
    {
        // 0.0636049 prints 0.063605 with 6 decimals, and that rounded again to 5 is 0.06361: one run prints 0.06360.
        ImageResult[] all = [ImageResult.Ok("a.png", [new Prediction("a", 1, 0.9363951f), new Prediction("b", 2, 0.0636049f)]), Results[1]];
        var shards = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            shards.Add(_dir.File($"r.shard-{i}-of-2.jsonl"));
            File.WriteAllText(shards[i], RenderShard(i, 2, all: all));
        }
        var merged = _dir.File("merged.out");
        ShardMerge.Merge(shards, merged, format);
        Assert.Equal(Render(format, all), File.ReadAllText(merged));
        Assert.Contains(printed, File.ReadAllText(merged));
    }

    [Fact]
    public void Merged_json_of_shards_from_different_devices_says_mixed()
    {
        var shards = WriteShards();
        File.WriteAllText(shards[1], RenderShard(1, 3, Info with { Device = "cuda:1" }));
        var merged = _dir.File("merged.json");
        ShardMerge.Merge(shards, merged, OutputFormat.Json);
        Assert.Equal(Render(OutputFormat.Json, Results, Info with { Device = "mixed" }), File.ReadAllText(merged));
        Assert.Contains("\"synset\": \"n02124075\"", File.ReadAllText(merged));
    }

    [Theory]
    [InlineData("squeezenet1.1", "cec5f808b7e3c59026a88bdc641b5c5f13a76b1c748779caa4486c3462c283c4", "1.0.0+252f5c5eefc9")] // its fp16 file
    [InlineData("mobilenet_v2_1.0_224_quant", "33147f1f4686c6340ca748e14629627c6c96084e0ca0cb037aeca355349f6164", "1.0.0+252f5c5eefc9")]
    [InlineData("squeezenet1.1", "33147f1f4686c6340ca748e14629627c6c96084e0ca0cb037aeca355349f6164", "1.0.0+0123456789ab")]
    public void A_shard_made_by_another_model_file_or_build_is_refused_in_every_format(string model, string sha, string version)
    {
        var shards = WriteShards();
        File.WriteAllText(shards[1], RenderShard(1, 3, Info with { Made = new Provenance(model, sha, version) }));
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
    public void A_file_without_a_trailer_is_not_a_shard()
    {
        // One unsharded run's jsonl, and a shard cut at a line end (its trailer gone with its last records).
        var whole = _dir.File("results.jsonl");
        File.WriteAllText(whole, Render(OutputFormat.Jsonl, Results));
        Assert.Contains("has no shard trailer", MergeFails([whole]).Message);

        var shards = WriteShards();
        var lines = File.ReadAllLines(shards[1]);
        File.WriteAllLines(shards[1], lines[..^1]);
        var e = MergeFails(shards);
        Assert.Equal(shards[1], e.File);
        Assert.Contains("has no shard trailer", e.Message);
    }

    [Fact]
    public void A_record_removed_or_added_under_a_kept_trailer_is_refused()
    {
        var shards = WriteShards();
        var lines = File.ReadAllLines(shards[0]).ToList();
        lines.RemoveAt(1); // chelsea.png and coffee.png are shard 0: coffee.png goes
        File.WriteAllLines(shards[0], lines);
        var e = MergeFails(shards);
        Assert.Equal(shards[0], e.File);
        Assert.Contains("holds 1 records, but its trailer says 2", e.Message);

        shards = WriteShards();
        lines = File.ReadAllLines(shards[2]).ToList();
        lines.Insert(0, File.ReadAllLines(shards[0])[0]);
        File.WriteAllLines(shards[2], lines);
        Assert.Contains("holds 2 records, but its trailer says 1", MergeFails(shards).Message);
    }

    [Fact]
    public void A_record_of_another_image_under_a_kept_trailer_is_refused()
    {
        var shards = WriteShards();
        File.WriteAllText(shards[0], File.ReadAllText(shards[0]).Replace("\"coffee.png\"", "\"tea.png\"", StringComparison.Ordinal));
        var e = MergeFails(shards);
        Assert.Equal(shards[0], e.File);
        Assert.Contains("files_sha256 differs", e.Message);
    }

    [Fact]
    public void Shards_whose_records_and_trailers_were_both_rewritten_fail_the_whole_split_check()
    {
        // A shard of the same count whose trailer was rewritten to match other records: only the split's digest of
        // all names in order can tell.
        var shards = WriteShards();
        ImageResult[] other = [Results[0], Results[1] with { File = "tea.png" }];
        var forged = new ShardTrailer(0, 3, 2, ShardSplit.Of(Shard.Whole, ["chelsea.png", "tea.png"]).InputsSha256, 5,
            ShardSplit.Of(Shard.Whole, [.. Results.Select(r => r.File)]).InputsSha256, 2, "onnx", "cpu");
        File.WriteAllText(shards[0], Render(OutputFormat.Jsonl, other) + System.Text.Encoding.UTF8.GetString(forged.ToJson()) + "\n");
        Assert.Contains("hold other images, or the same in another order, than the split of 5 inputs", MergeFails(shards).Message);
    }

    [Fact]
    public void A_shard_with_fewer_predictions_than_its_top_k_is_refused()
    {
        var shards = WriteShards();
        File.WriteAllText(shards[0], System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(shards[0]), @",\{""label"":""cup""[^}]*\}", ""));
        Assert.Contains("line 2 has 1 predictions, but the shard was made with top 2", MergeFails(shards).Message);
    }

    [Fact]
    public void An_empty_shard_holds_its_trailer_and_merges()
    {
        var shards = WriteShards(count: 7);
        Assert.Single(File.ReadAllLines(shards[6]));
        Assert.Equal(Results.Length, ShardMerge.Merge(shards, _dir.File("merged.jsonl"), OutputFormat.Jsonl));
        Assert.Equal(Render(OutputFormat.Jsonl, Results), File.ReadAllText(_dir.File("merged.jsonl")));
    }

    [Fact]
    public void A_zero_byte_shard_is_refused()
    {
        // The issue's case: an emptied shard whose 13 images vanished from the merge with exit 0.
        var shards = WriteShards();
        File.WriteAllText(shards[1], "");
        var e = MergeFails(shards);
        Assert.Equal(shards[1], e.File);
        Assert.Contains("is empty", e.Message);
    }

    [Fact]
    public void A_gap_in_the_shard_set_names_the_missing_file()
    {
        var shards = WriteShards();
        shards.RemoveAt(1);
        var e = MergeFails(shards);
        Assert.Equal(_dir.File("results.shard-0001-of-0003.jsonl"), e.File);
        Assert.Contains("missing: 1 of 3 shards not given (shard 1)", e.Message);
    }

    [Fact]
    public void A_shard_file_that_does_not_exist_is_named()
    {
        var shards = WriteShards();
        File.Delete(shards[2]);
        Assert.Equal(shards[2], MergeFails(shards).File);
    }

    [Fact]
    public void A_shard_cut_inside_a_line_is_truncated()
    {
        var shards = WriteShards();
        var text = File.ReadAllText(shards[1]);
        File.WriteAllText(shards[1], text[..(text.Length - 20)]);
        var e = MergeFails(shards);
        Assert.Equal(shards[1], e.File);
        Assert.Contains("truncated", e.Message);
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
    public void Another_splits_shard_under_the_right_name_is_refused()
    {
        // The same shard of a split of other inputs (another --image_dir), copied over this split's file.
        var shards = WriteShards();
        File.WriteAllText(shards[1], RenderShard(1, 3, all: [.. Results, ImageResult.Ok("extra.png", [new Prediction("a", 1, 0.5f), new Prediction("b", 2, 0.25f)])]));
        var e = MergeFails(shards);
        Assert.Equal(shards[1], e.File);
        Assert.Contains("of a split of 6 inputs (top 2), but " + shards[0] + " is shard 0 of 3 of a split of 5 inputs (top 2): shards of different runs", e.Message);

        File.WriteAllText(shards[1], RenderShard(1, 3, all: [.. Results[..4], Results[4] with { File = "renamed.png" }]));
        Assert.Contains("with other names: shards of different runs", MergeFails(shards).Message);
    }

    [Fact]
    public void A_shard_renamed_to_another_index_is_refused()
    {
        var shards = WriteShards();
        var stray = _dir.File("results.shard-0001-of-0004.jsonl");
        File.Move(shards[1], stray);
        shards[1] = stray;
        var e = MergeFails(shards);
        Assert.Equal(stray, e.File);
        Assert.Contains("is named shard-0001-of-0004 but holds shard 1 of 3", e.Message);
    }

    [Fact]
    public void The_same_shard_twice_is_refused()
    {
        var shards = WriteShards();
        shards.Add(shards[0]);
        Assert.Contains("is given twice", MergeFails(shards).Message);
    }

    [Fact]
    public void The_same_content_under_two_names_is_refused()
    {
        var shards = WriteShards();
        var copy = Path.Combine(_dir.Path, "copy");
        Directory.CreateDirectory(copy);
        var twin = Path.Combine(copy, Path.GetFileName(shards[0]));
        File.Copy(shards[0], twin);
        var free = _dir.File("backup.jsonl");
        File.Copy(shards[2], free);
        Assert.Contains("holds shard 0 of 3, which is also given as", MergeFails([.. shards, twin]).Message);
        Assert.Contains("holds shard 2 of 3, which is also given as", MergeFails([.. shards, free]).Message);
    }

    [Fact]
    public void Files_named_freely_are_merged_in_shard_order_whatever_the_order_given()
    {
        var a = _dir.File("b-first.jsonl");
        var b = _dir.File("a-second.jsonl");
        File.WriteAllText(a, RenderShard(1, 2));
        File.WriteAllText(b, RenderShard(0, 2));
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

        // A line over the limit before a valid trailer: read up to the limit, not to the end.
        var huge = _dir.File("huge.shard-0-of-1.jsonl");
        using (var f = File.Create(huge))
        {
            f.Write(new byte[LineScanner.MaxLineBytes + 10]);
            f.WriteByte((byte)'\n');
            f.Write(new ShardTrailer(0, 1, 1, "", 1, "", 2, "onnx", "cpu").ToJson());
            f.WriteByte((byte)'\n');
        }
        foreach (var format in new[] { OutputFormat.Jsonl, OutputFormat.Json })
        {
            var e = Assert.Throws<ClassifyException>(() => ShardMerge.Merge([huge], _dir.File("m.jsonl"), format));
            Assert.Equal(ExitCode.ShardInvalid, e.ExitCode);
            Assert.Contains("a line is over 16 MiB: not a file of classify results", e.Message);
        }
    }
}
