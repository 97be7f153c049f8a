using Parquet;
using Parquet.Schema;

namespace Classify.Tests;

/// <summary>One row of a --format parquet file as Parquet.Net reads it (lists null for a failed image).</summary>
internal sealed record ParquetRow(string File, byte[]? FileBytes, string[]? Labels, int[]? Classes, float[]? Scores,
    string?[]? Synsets, string? Error, int? ErrorCode, string? ErrorKind, string? Model, string? ModelSha256, string? ClassifyVersion);

/// <summary>Reads a results file with Parquet.Net itself (not with classify's reader), row group by row group.</summary>
internal static class ParquetRows
{
    public static List<ParquetRow> Read(string path) => ReadAsync(path).GetAwaiter().GetResult().Rows;

    public static Dictionary<string, string> Metadata(string path) => ReadAsync(path).GetAwaiter().GetResult().Metadata;

    private static async Task<(List<ParquetRow> Rows, Dictionary<string, string> Metadata)> ReadAsync(string path)
    {
        await using var reader = await ParquetReader.CreateAsync(path);
        DataField Field(string name) => reader.Schema.DataFields.Single(f => f.Path.ToString().Split('/')[0] == name);
        var rows = new List<ParquetRow>();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var n = (int)group.RowCount;
            async Task<T?[]> Flat<T>(string name) where T : struct
            {
                var values = new T?[n];
                await group.ReadAsync<T>(Field(name), values);
                return values;
            }
            async Task<string?[]> Text(string name)
            {
                var values = new string?[n];
                await group.ReadAsync(Field(name), values);
                return values;
            }
            var files = await Text("file");
            var bytes = new byte[]?[n];
            await group.ReadAsync(Field("file_bytes"), bytes);
            var labels = await List<ReadOnlyMemory<char>>(group, Field("label"), n);
            var classes = await List<int>(group, Field("class"), n);
            var scores = await List<float>(group, Field("score"), n);
            var synsets = await List<ReadOnlyMemory<char>>(group, Field("synset"), n);
            var (error, code, kind) = (await Text("error"), await Flat<int>("error_code"), await Text("error_kind"));
            var (model, sha, version) = (await Text("model"), await Text("model_sha256"), await Text("classify_version"));
            for (var i = 0; i < n; i++)
                rows.Add(new ParquetRow(files[i]!, bytes[i], labels[i]?.Select(l => l!.Value.ToString()).ToArray(), classes[i]?.Select(c => c!.Value).ToArray(),
                    scores[i]?.Select(s => s!.Value).ToArray(), synsets[i]?.Select(s => s?.ToString()).ToArray(), error[i], code[i], kind[i], model[i], sha[i], version[i]));
        }
        return (rows, reader.CustomMetadata);
    }

    /// <summary>A list column: per row its elements, null for a null list (definition level 0).</summary>
    private static async Task<T?[]?[]> List<T>(ParquetRowGroupReader group, DataField element, int rows) where T : struct
    {
        var count = (int)group.GetMetadata(element)!.MetaData!.NumValues;
        var (values, defined, repeated) = (new T[count], new int[count], new int[count]);
        await group.ReadRawAsync<T>(element, values, defined, repeated);
        var result = new List<T?[]?>();
        List<T?>? current = null;
        var v = 0;
        for (var e = 0; e < count; e++)
        {
            if (repeated[e] == 0)
            {
                if (e > 0) result.Add(current?.ToArray());
                current = defined[e] == 0 ? null : [];
            }
            if (defined[e] == element.MaxDefinitionLevel) current!.Add(values[v++]);
            else if (defined[e] == element.MaxDefinitionLevel - 1) current!.Add(null);
        }
        if (count > 0) result.Add(current?.ToArray());
        Assert.Equal(rows, result.Count);
        return [.. result];
    }
}
