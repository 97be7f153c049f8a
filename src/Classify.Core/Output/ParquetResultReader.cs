using System.Text;
using Classify.Inference;
using Classify.Inputs;
using Classify.Pipeline;
using Parquet;
using Parquet.Schema;

namespace Classify.Output;

/// <summary>
/// Reads a file of <c>--format parquet</c> back into results (<c>classify merge</c> of parquet shards, and the tests),
/// one row group at a time. A file whose columns are not <see cref="ParquetColumns.Schema"/>, or whose values do not
/// fit together (a list shorter than another, a result with neither predictions nor an error, a score that is not a
/// finite number) is refused with <see cref="InvalidDataException"/>, as merge refuses a jsonl line it did not write.
/// </summary>
internal static class ParquetResultReader
{
    /// <summary>Whether the file at <paramref name="path"/> starts as a Parquet file does.</summary>
    public static bool IsParquet(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        Span<byte> head = stackalloc byte[4];
        return file.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && ParquetColumns.IsParquet(head);
    }

    /// <summary>The trailer a sharded run keeps in the file's key-value metadata.</summary>
    public static ShardTrailer ReadTrailer(string path)
    {
        var reader = Open(path);
        try
        {
            if (!reader.CustomMetadata.TryGetValue(ParquetColumns.ShardKey, out var json))
                throw new InvalidDataException($"has no shard trailer (the {ParquetColumns.ShardKey} metadata a sharded classify run writes): not a finished shard of a sharded parquet run (--shard, a Slurm array, MPI or srun ranks)");
            return ShardTrailer.TryParse(Encoding.UTF8.GetBytes(json))
                ?? throw new InvalidDataException($"its shard trailer (the {ParquetColumns.ShardKey} metadata) is damaged");
        }
        finally
        {
            ParquetResultWriter.Wait(reader.DisposeAsync().AsTask());
        }
    }

    /// <summary>Every row of the file, in order, with the provenance it names (null when it names none).</summary>
    public static IEnumerable<(ImageResult Result, Provenance? Made)> Read(string path)
    {
        var reader = Open(path);
        try
        {
            var fields = reader.Schema.DataFields;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                foreach (var row in Rows(group, fields, path))
                    yield return row;
            }
        }
        finally
        {
            ParquetResultReader.Dispose(reader);
        }
    }

    private static void Dispose(ParquetReader reader) => ParquetResultWriter.Wait(reader.DisposeAsync().AsTask());

    private static ParquetReader Open(string path)
    {
        ParquetReader reader;
        try
        {
            reader = ParquetResultWriter.Wait(ParquetReader.CreateAsync(path));
        }
        // Parquet.Net reports a file it cannot read as an IOException without an errno (a failed read has one).
        catch (Exception e) when (e is not UnauthorizedAccessException and not IOException { HResult: > 0 and < 4096 })
        {
            throw new InvalidDataException($"is not a complete Parquet file (truncated, or its task was killed while writing it?): {ClassifyException.Fold(e.Message)}");
        }
        if (!reader.Schema.Equals(ParquetColumns.Schema))
        {
            Dispose(reader);
            throw new InvalidDataException("is a Parquet file, but not of classify's results: its columns differ from those --format parquet writes");
        }
        return reader;
    }

    private static List<(ImageResult, Provenance?)> Rows(ParquetRowGroupReader group, DataField[] f, string path)
    {
        var n = checked((int)group.RowCount);
        var file = Flat<ReadOnlyMemory<char>>(group, f[0], n);
        var labels = List<ReadOnlyMemory<char>>(group, f[1], n);
        var classes = List<int>(group, f[2], n);
        var scores = List<float>(group, f[3], n);
        var synsets = List<ReadOnlyMemory<char>>(group, f[4], n);
        var error = Flat<ReadOnlyMemory<char>>(group, f[5], n);
        var code = Flat<int>(group, f[6], n);
        var kind = Flat<ReadOnlyMemory<char>>(group, f[7], n);
        var device = Flat<ReadOnlyMemory<char>>(group, f[8], n);
        var model = Flat<ReadOnlyMemory<char>>(group, f[9], n);
        var sha = Flat<ReadOnlyMemory<char>>(group, f[10], n);
        var version = Flat<ReadOnlyMemory<char>>(group, f[11], n);
        var bytes = Flat<ReadOnlyMemory<byte>>(group, f[12], n);
        var rows = new List<(ImageResult, Provenance?)>(n);
        for (var i = 0; i < n; i++)
        {
            var name = bytes[i] is { } raw ? FileNames.FromBytes(raw.Span) : Text(file[i])!;
            Provenance? made = (model[i], sha[i], version[i]) switch
            {
                (null, null, null) => null,
                ({ } m, { } s, { } v) => new Provenance(m.ToString(), s.ToString(), v.ToString()),
                _ => throw new InvalidDataException($"row {i + 1} of its row group names only part of a model, model_sha256 and classify_version"),
            };
            var k = labels[i]?.Length;
            if (k != classes[i]?.Length || k != scores[i]?.Length || k != synsets[i]?.Length)
                throw new InvalidDataException($"row {i + 1} of its row group has lists of different lengths (label, class, score, synset)");
            ImageResult result;
            if (code[i] is { } c)
            {
                if (k is not null || error[i] is null || kind[i] is null)
                    throw new InvalidDataException($"row {i + 1} of its row group has an error_code with predictions, or without error and error_kind");
                result = new ImageResult(name, null, new ImageError(c, Text(kind[i])!, Text(error[i])!));
            }
            else
            {
                if (k is null or 0 || error[i] is not null || kind[i] is not null)
                    throw new InvalidDataException($"row {i + 1} of its row group has neither predictions nor an error_code");
                var predictions = new Prediction[k.Value];
                for (var r = 0; r < predictions.Length; r++)
                {
                    var score = scores[i]![r] ?? float.NaN;
                    if (!float.IsFinite(score) || labels[i]![r] is null || classes[i]![r] is null)
                        throw new InvalidDataException($"row {i + 1} of its row group has a prediction without a label, a class or a finite score");
                    predictions[r] = new Prediction(Text(labels[i]![r])!, classes[i]![r]!.Value, score, Text(synsets[i]![r]));
                }
                result = ImageResult.Ok(name, predictions) with { Device = Text(device[i]) };
            }
            rows.Add((result, made));
        }
        return rows;
    }

    private static string? Text(ReadOnlyMemory<char>? text) => text is { } t ? t.ToString() : null;

    /// <summary>A flat column, one value or null per row.</summary>
    private static T?[] Flat<T>(ParquetRowGroupReader group, DataField field, int rows) where T : struct
    {
        var (values, defined, _) = Raw<T>(group, field);
        var result = new T?[rows];
        var v = 0;
        for (var i = 0; i < rows; i++)
            result[i] = defined is null || defined[i] == field.MaxDefinitionLevel ? values[v++] : null;
        return result;
    }

    /// <summary>A list column: per row its elements (null ones included), or null for a null list.</summary>
    private static T?[]?[] List<T>(ParquetRowGroupReader group, DataField element, int rows) where T : struct
    {
        var (values, defined, repeated) = Raw<T>(group, element);
        var result = new T?[]?[rows];
        var items = new List<T?>();
        int row = -1, v = 0;
        for (var e = 0; e < defined!.Length; e++)
        {
            if (repeated![e] == 0)
            {
                if (row >= 0 && result[row] is not null) result[row] = [.. items];
                if (++row >= rows) throw new InvalidDataException($"the column {element.Path} holds more rows than its row group");
                items.Clear();
                result[row] = defined[e] == 0 ? null : [];
            }
            if (defined[e] == element.MaxDefinitionLevel) items.Add(values[v++]);
            else if (defined[e] == element.MaxDefinitionLevel - 1) items.Add(null);
        }
        if (row >= 0 && result[row] is not null) result[row] = [.. items];
        if (row + 1 != rows)
            throw new InvalidDataException($"the column {element.Path} holds {row + 1} rows, but its row group {rows}");
        return result;
    }

    private static (T[] Values, int[]? Defined, int[]? Repeated) Raw<T>(ParquetRowGroupReader group, DataField field) where T : struct
    {
        var count = checked((int)(group.GetMetadata(field)?.MetaData?.NumValues
            ?? throw new InvalidDataException($"has no column {field.Path} in a row group")));
        var values = new T[count];
        var defined = field.MaxDefinitionLevel > 0 ? new int[count] : null;
        var repeated = field.MaxRepetitionLevel > 0 ? new int[count] : null;
        try
        {
            group.ReadRawAsync<T>(field, values, defined is null ? (Memory<int>?)null : defined, repeated is null ? (Memory<int>?)null : repeated).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not UnauthorizedAccessException and not InvalidDataException and not IOException { HResult: > 0 and < 4096 })
        {
            throw new InvalidDataException($"its column {field.Path} cannot be read (damaged?): {ClassifyException.Fold(e.Message)}");
        }
        return (values, defined, repeated);
    }
}
