using Classify.Inference;
using Classify.Inputs;
using Classify.Output;
using Classify.Pipeline;
using Parquet;
using Parquet.Schema;

namespace Classify.Tests.Output;

/// <summary>--format parquet: what the writer puts in the file, read back with Parquet.Net; shards and merge.</summary>
public sealed class ParquetResultTests : IDisposable
{
    private readonly TempDir _dir = new();
    private static readonly Provenance Made = new("squeezenet1.1", "33147f1f4686c6340ca748e14629627c6c96084e0ca0cb037aeca355349f6164", "1.0.0+252f5c5eefc9");
    private static readonly RunInfo Info = new(Made, "onnx", "cpu", 2);

    public void Dispose() => _dir.Dispose();

    private static readonly ImageResult[] Results =
    [
        ImageResult.Ok("chelsea.png", [new Prediction("Egyptian cat", 285, 0.92151713f, "n02124075"), new Prediction("tabby, tabby cat", 281, 0.0573961f, "n02123045")]),
        ImageResult.Ok("coffee.png", [new Prediction("espresso", 967, 0.978411f), new Prediction("cup", 968, 0.010233f)]),
        ImageResult.Failed("broken.png", new ClassifyException(ExitCode.ImageCorrupt, "broken.png", "not a valid PNG (truncated)")),
        ImageResult.Ok("caf\uDCE9 \"quoted\", name.png", [new Prediction("space shuttle", 812, 0.33f), new Prediction("missile", 657, 0.2f)]),
        ImageResult.Ok("rocket.jpg", [new Prediction("missile", 657, 0.55f), new Prediction("projectile, missile", 744, 0.41f)]) with { Device = "cpu" },
    ];

    /// <summary>Writes <paramref name="results"/> as classify does: through the format's writer onto an AtomicFile.</summary>
    private static ParquetResultWriter Write(string path, IEnumerable<ImageResult> results, RunInfo? info = null, int rowGroupSize = ParquetResultWriter.DefaultRowGroupSize)
    {
        using var file = new AtomicFile(path);
        ParquetResultWriter writer;
        using (var text = ResultWriter.OpenText(file.Stream))
        {
            writer = new ParquetResultWriter(text, info ?? Info, rowGroupSize);
            foreach (var r in results) writer.Write(r);
            writer.Complete();
        }
        file.Commit();
        return writer;
    }

    private static RunInfo ShardInfo(int index, int count) =>
        Info with { Split = ShardSplit.Of(new Shard(index, count), [.. Results.Select(r => r.File)]) };

    private List<string> WriteShards(int count = 3)
    {
        var paths = new List<string>();
        for (var i = 0; i < count; i++)
        {
            paths.Add(_dir.File($"results.shard-{i:D4}-of-{count:D4}.parquet"));
            Write(paths[i], new Shard(i, count).Slice(Results), ShardInfo(i, count));
        }
        return paths;
    }

    private ClassifyException MergeFails(IReadOnlyList<string> shards)
    {
        var e = Assert.Throws<ClassifyException>(() => ShardMerge.Merge(shards, _dir.File("merged.parquet"), OutputFormat.Parquet));
        Assert.Equal(ExitCode.ShardInvalid, e.ExitCode);
        Assert.False(File.Exists(_dir.File("merged.parquet")));
        return e;
    }

    [Fact]
    public void Every_result_reads_back_as_written_scores_unrounded()
    {
        var path = _dir.File("r.parquet");
        Write(path, Results, rowGroupSize: 2);
        var rows = ParquetResultReader.Read(path).ToList();
        Assert.Equal(Results.Length, rows.Count);
        for (var i = 0; i < Results.Length; i++)
        {
            Assert.Equal(Made, rows[i].Made);
            Assert.Equal(Results[i].File, rows[i].Result.File);
            Assert.Equal(Results[i].Error, rows[i].Result.Error);
            Assert.Equal(Results[i].Device, rows[i].Result.Device);
            Assert.Equal(Results[i].Predictions, rows[i].Result.Predictions);
        }
    }

    [Fact]
    public void Columns_are_csvs_names_the_top_k_as_lists_and_a_failed_image_has_null_lists()
    {
        var path = _dir.File("r.parquet");
        Write(path, Results);
        var (names, labels, scores, synsets, codes, kinds, models) = ParquetResultWriter.Wait(ReadColumns(path));
        Assert.Equal(["file", "label", "class", "score", "synset", "error", "error_code", "error_kind", "device", "model", "model_sha256", "classify_version", "file_bytes"],
            names);
        Assert.Equal([0, 1, 0, 1, 0, 0, 1, 0, 1], labels.Repeated); // a new list (0), then its repeats (1)
        Assert.Equal(0, labels.Defined[4]); // broken.png: a null list (definition level 0), not an empty one
        Assert.Equal(["Egyptian cat", "tabby, tabby cat", "espresso", "cup", "space shuttle", "missile", "missile", "projectile, missile"], labels.Values);
        Assert.Equal(0.92151713f, scores[0]);
        Assert.Equal([3, 3, 2, 2, 0, 2, 2, 2, 2], synsets); // coffee.png's model had no synsets: null elements (level 2)
        Assert.Equal([null, null, 5, null, null], codes);
        Assert.Equal(new string?[] { null, null, "ImageCorrupt", null, null }, kinds);
        Assert.All(models, m => Assert.Equal(Made.Model, m));
    }

    private static async Task<(List<string>, (string[] Values, int[] Defined, int[] Repeated), float[], int[], int?[], string?[], string?[])> ReadColumns(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        var f = reader.Schema.DataFields;
        using var g = reader.OpenRowGroupReader(0);
        var n = (int)g.GetMetadata(f[1])!.MetaData!.NumValues;
        var labels = new ReadOnlyMemory<char>[n];
        var (ldef, lrep) = (new int[n], new int[n]);
        await g.ReadRawAsync<ReadOnlyMemory<char>>(f[1], labels, ldef, lrep);
        var present = ldef.Count(d => d == f[1].MaxDefinitionLevel);
        var scores = new float[n];
        await g.ReadRawAsync<float>(f[3], scores, new int[n], new int[n]);
        var sdef = new int[n];
        await g.ReadRawAsync<ReadOnlyMemory<char>>(f[4], new ReadOnlyMemory<char>[n], sdef, new int[n]);
        var codes = new int?[g.RowCount];
        await g.ReadAsync<int>(f[6], codes);
        var kinds = new string?[g.RowCount];
        await g.ReadAsync(f[7], kinds);
        var models = new string?[g.RowCount];
        await g.ReadAsync(f[9], models);
        return ([.. reader.Schema.Fields.Select(x => x.Name)], ([.. labels.Take(present).Select(l => l.ToString())], ldef, lrep), scores, sdef, codes, kinds, models);
    }

    [Fact]
    public void A_name_that_is_not_utf8_is_escaped_text_in_file_and_its_exact_bytes_in_file_bytes()
    {
        var path = _dir.File("r.parquet");
        Write(path, Results);
        var (files, bytes) = ParquetResultWriter.Wait(ReadNames(path));
        Assert.Equal("caf\\xe9 \"quoted\", name.png", files[3]);
        Assert.Equal([.. "caf"u8, 0xe9, .. " \"quoted\", name.png"u8], bytes[3]);
        Assert.Equal(FileNames.ToBytes(Results[3].File), bytes[3]);
        Assert.Equal("chelsea.png", files[0]);
        Assert.Null(bytes[0]); // a UTF-8 name has no bytes column value
    }

    private static async Task<(string?[] Files, byte[]?[] Bytes)> ReadNames(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        using var g = reader.OpenRowGroupReader(0);
        var files = new string?[g.RowCount];
        var bytes = new byte[]?[g.RowCount];
        await g.ReadAsync(reader.Schema.FindDataField("file"), files);
        await g.ReadAsync(reader.Schema.FindDataField("file_bytes"), bytes);
        return (files, bytes);
    }

    [Fact]
    public void Rows_are_written_in_row_groups_and_never_more_than_one_group_is_held()
    {
        var many = Enumerable.Range(0, 1000).Select(i => Results[i % Results.Length] with { File = $"img{i:D5}.png" }).ToList();
        var path = _dir.File("many.parquet");
        var writer = Write(path, many, rowGroupSize: 64);
        Assert.Equal(64, writer.MostBuffered);
        Assert.Equal(16, writer.RowGroups); // 15 full groups and the last 40 rows
        Assert.Equal(many.Select(r => r.File), ParquetResultReader.Read(path).Select(r => r.Result.File));
        Assert.Equal(ParquetResultWriter.DefaultRowGroupSize, new ParquetResultWriter(ResultWriter.OpenText(new MemoryStream()), Info).RowGroupSize);
    }

    [Fact]
    public void No_results_is_a_valid_file_with_no_rows()
    {
        var path = _dir.File("none.parquet");
        Write(path, []);
        Assert.Empty(ParquetResultReader.Read(path));
    }

    [Theory]
    [InlineData(OutputFormat.Parquet)]
    [InlineData(OutputFormat.Jsonl)]
    [InlineData(OutputFormat.Csv)]
    public void Parquet_shards_merge_into_what_one_run_writes(OutputFormat format)
    {
        var shards = WriteShards();
        Assert.Equal(new ShardTrailer(1, 3, 2, ShardSplit.Of(Shard.Whole, [Results[2].File, Results[3].File]).InputsSha256, 5,
            ShardSplit.Of(Shard.Whole, [.. Results.Select(r => r.File)]).InputsSha256, 2, "onnx", "cpu"), ShardTrailer.ReadFrom(shards[1]));
        var merged = _dir.File("merged." + format.ToString().ToLowerInvariant());
        Assert.Equal(Results.Length, ShardMerge.Merge(shards, merged, format));
        var one = _dir.File("one." + format.ToString().ToLowerInvariant());
        using (var file = new AtomicFile(one))
        {
            using (var text = ResultWriter.OpenText(file.Stream))
            {
                var writer = ResultWriter.Create(format, text, Info, singleInput: false);
                foreach (var r in Results) writer.Write(r);
                writer.Complete();
            }
            file.Commit();
        }
        Assert.Equal(File.ReadAllBytes(one), File.ReadAllBytes(merged));
    }

    [Fact]
    public void An_unsharded_parquet_file_is_not_a_shard()
    {
        var whole = _dir.File("results.parquet");
        Write(whole, Results);
        Assert.Contains("has no shard trailer (the classify_shard metadata", MergeFails([whole]).Message);
    }

    [Fact]
    public void A_truncated_or_foreign_parquet_file_is_refused_by_name()
    {
        var shards = WriteShards();
        var bytes = File.ReadAllBytes(shards[1]);
        File.WriteAllBytes(shards[1], bytes[..^40]);
        var e = MergeFails(shards);
        Assert.Equal(shards[1], e.File);
        Assert.Contains("is not a complete Parquet file", e.Message);

        shards = WriteShards();
        ParquetResultWriter.Wait(WriteForeign(shards[2]));
        Assert.Contains("not of classify's results", MergeFails(shards).Message);
    }

    private static async Task WriteForeign(string path)
    {
        var field = new DataField<int>("id");
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(field), stream);
        using var g = writer.CreateRowGroup();
        await g.WriteAsync<int>(field, new[] { 1, 2 }.AsMemory());
        g.CompleteValidate();
    }

    [Fact]
    public void Rows_removed_replaced_or_made_by_another_model_under_a_kept_trailer_are_refused()
    {
        var shards = WriteShards();
        Write(shards[0], [Results[0]], ShardInfo(0, 3)); // the trailer of a shard of 2 with 1 row
        var e = MergeFails(shards);
        Assert.Contains("holds 1 records, but its trailer says 1 and shard 0 of 3 of 5 inputs has 2", e.Message);

        shards = WriteShards();
        Write(shards[0], [Results[0], Results[1] with { File = "tea.png" }], ShardInfo(0, 3));
        Assert.Contains("hold other images, or the same in another order, than the split of 5 inputs", MergeFails(shards).Message);

        shards = WriteShards();
        Write(shards[2], [Results[4]], ShardInfo(2, 3) with { Made = Made with { ModelSha256 = new string('0', 64) } });
        Assert.Contains("row 1 was made by model squeezenet1.1 (model_sha256 0000", MergeFails(shards).Message);

        shards = WriteShards();
        Write(shards[2], [Results[4] with { Predictions = Results[4].Predictions![..1] }], ShardInfo(2, 3));
        Assert.Contains("row 1 has 1 predictions, but the shard was made with top 2", MergeFails(shards).Message);
    }

    [Fact]
    public void Jsonl_and_parquet_shards_of_one_split_merge_together()
    {
        var shards = WriteShards();
        var jsonl = _dir.File("results.shard-0001-of-0003.jsonl");
        using (var file = new AtomicFile(jsonl))
        {
            using (var text = ResultWriter.OpenText(file.Stream))
            {
                var writer = ResultWriter.Create(OutputFormat.Jsonl, text, ShardInfo(1, 3), singleInput: false);
                foreach (var r in new Shard(1, 3).Slice(Results)) writer.Write(r);
                writer.Complete();
            }
            file.Commit();
        }
        File.Delete(shards[1]);
        shards[1] = jsonl;
        var merged = _dir.File("merged.parquet");
        ShardMerge.Merge(shards, merged, OutputFormat.Parquet);
        Assert.Equal(Results.Select(r => r.File), ParquetResultReader.Read(merged).Select(r => r.Result.File));
    }
}
