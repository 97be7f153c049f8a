using System.Buffers;
using System.Runtime.CompilerServices;
using Classify.Inputs;
using Classify.Pipeline;
using Parquet;
using Parquet.Schema;

namespace Classify.Output;

/// <summary>
/// <c>--format parquet</c> (<see cref="ParquetColumns"/>): rows are kept until <see cref="RowGroupSize"/> of them are
/// there, then written as one compressed row group, so memory stays bounded whatever the number of images; the footer
/// (the schema, the row groups' offsets and, for a shard, its trailer) goes last, in <see cref="Complete"/>. Parquet is
/// read from its end, so it is written to a file only (<see cref="AtomicFile"/>: it appears when complete), never
/// to standard output.
/// </summary>
internal sealed class ParquetResultWriter : ResultWriter
{
    /// <summary>Rows per row group: 10,000 results are a few MB in memory (a row is a name, k labels and scores), and
    /// 10,000 rows are a row group that DuckDB and pandas read efficiently.</summary>
    public const int DefaultRowGroupSize = 10_000;

    // zstd (managed: ZstdSharp, no native library) at CompressionLevel.Optimal: on 100,000 synthetic rows it wrote half
    // the bytes of its Fastest level and a tenth of snappy's in about the same time; the library's default level
    // (SmallestSize) took six times as long for half the bytes again (README, Parquet).
    private static readonly ParquetOptions Options = new()
    {
        CompressionMethod = CompressionMethod.Zstd,
        CompressionLevel = System.IO.Compression.CompressionLevel.Optimal,
    };

    private readonly RunInfo _info;
    private readonly List<ImageResult> _rows;
    private readonly PositionStream _stream;
    private readonly ParquetWriter _parquet;
    private readonly NameDigest? _files;
    private long _records;

    public ParquetResultWriter(TextWriter writer, RunInfo info, int rowGroupSize = DefaultRowGroupSize) : base(writer)
    {
        if (writer is not RawNameWriter raw)
            throw new ArgumentException("parquet is written to a file's stream", nameof(writer));
        ArgumentOutOfRangeException.ThrowIfLessThan(rowGroupSize, 1);
        _info = info;
        RowGroupSize = rowGroupSize;
        _rows = new List<ImageResult>(Math.Min(rowGroupSize, 1024));
        _files = info.Split is null ? null : new NameDigest();
        raw.Flush();
        _stream = new PositionStream(raw.BaseStream);
        _parquet = Wait(ParquetWriter.CreateAsync(ParquetColumns.Schema, _stream, Options));
    }

    public int RowGroupSize { get; }

    /// <summary>The most rows held in memory at once (never above <see cref="RowGroupSize"/>).</summary>
    public int MostBuffered { get; private set; }

    public int RowGroups { get; private set; }

    public override void Write(ImageResult result)
    {
        _rows.Add(result);
        MostBuffered = Math.Max(MostBuffered, _rows.Count);
        _records++;
        _files?.Add(result.File);
        if (_rows.Count >= RowGroupSize)
            WriteRowGroup();
    }

    public override void Complete()
    {
        if (_rows.Count > 0 || RowGroups == 0)
            WriteRowGroup();
        if (_info.Split is { } split)
        {
            var trailer = new ShardTrailer(split.Shard.Index, split.Shard.Count, _records, _files!.Finish(), split.Inputs,
                split.InputsSha256, _info.TopK, _info.Backend, _info.Device, _info.FeaturesSha256?.Invoke());
            _parquet.CustomMetadata = new Dictionary<string, string> { [ParquetColumns.ShardKey] = Utf8.GetString(trailer.ToJson()) };
        }
        Wait(_parquet.DisposeAsync().AsTask());
        base.Complete();
    }

    private void WriteRowGroup()
    {
        var rows = _rows;
        var made = _info.Made;
        using (var group = _parquet.CreateRowGroup())
        {
            Text(group, ParquetColumns.File, rows, r => FileNames.Printable(r.File));
            List(group, ParquetColumns.Label, rows, p => p.Label.AsMemory());
            List(group, ParquetColumns.Class, rows, p => p.Class);
            List(group, ParquetColumns.Score, rows, p => p.Score);
            List(group, ParquetColumns.Synset, rows, p => p.Synset?.AsMemory());
            Text(group, ParquetColumns.Error, rows, r => r.Error is { } e ? FileNames.Printable(e.Message) : null);
            Write(group, ParquetColumns.ErrorCode, rows, r => r.Error?.Code);
            Text(group, ParquetColumns.ErrorKind, rows, r => r.Error?.Kind);
            Text(group, ParquetColumns.Device, rows, r => r.Device);
            Text(group, ParquetColumns.Model, rows, _ => made?.Model);
            Text(group, ParquetColumns.ModelSha256, rows, _ => made?.ModelSha256);
            Text(group, ParquetColumns.ClassifyVersion, rows, _ => made?.ClassifyVersion);
            Write(group, ParquetColumns.FileBytes, rows, r => FileNames.HasEscapes(r.File) ? new ReadOnlyMemory<byte>(FileNames.ToBytes(r.File)) : (ReadOnlyMemory<byte>?)null);
            group.CompleteValidate();
        }
        RowGroups++;
        rows.Clear();
    }

    private static void Text(ParquetRowGroupWriter group, DataField field, List<ImageResult> rows, Func<ImageResult, string?> value) =>
        Write(group, field, rows, r => value(r)?.AsMemory());

    /// <summary>A flat column: the present values packed, a definition level per row when the column is nullable.
    /// Buffers are pooled: a fresh one per column and row group put tens of MB a minute on the large object heap.</summary>
    private static void Write<T>(ParquetRowGroupWriter group, DataField field, List<ImageResult> rows, Func<ImageResult, T?> value) where T : struct
    {
        var values = ArrayPool<T>.Shared.Rent(rows.Count);
        var defined = field.MaxDefinitionLevel > 0 ? ArrayPool<int>.Shared.Rent(rows.Count) : null;
        try
        {
            var n = 0;
            for (var i = 0; i < rows.Count; i++)
            {
                var v = value(rows[i]);
                if (v is { } present) values[n++] = present;
                else if (defined is null) throw new InvalidOperationException($"{field.Name} is required");
                if (defined is not null) defined[i] = v.HasValue ? field.MaxDefinitionLevel : 0;
            }
            Wait(group.WriteAllPartsAsync<T>(field, values.AsMemory(0, n), defined is null ? (ReadOnlyMemory<int>?)null : defined.AsMemory(0, rows.Count),
                null, CancellationToken.None));
        }
        finally
        {
            ArrayPool<T>.Shared.Return(values, clearArray: RuntimeHelpers.IsReferenceOrContainsReferences<T>());
            if (defined is not null) ArrayPool<int>.Shared.Return(defined);
        }
    }

    private static void Write<T>(ParquetRowGroupWriter group, DataField field, List<ImageResult> rows, Func<ImageResult, T> value) where T : struct =>
        Write<T>(group, field, rows, r => (T?)value(r));

    /// <summary>A list column of the top-k: per image its k values (levels: a new list, then repeats), or one entry at
    /// definition level 0 for a failed image (a null list). A null element (a model without synsets) is one level
    /// below the element's.</summary>
    private static void List<T>(ParquetRowGroupWriter group, DataField element, List<ImageResult> rows, Func<Inference.Prediction, T?> value) where T : struct
    {
        var entries = 0;
        foreach (var r in rows) entries += r.Predictions?.Length ?? 1;
        var values = ArrayPool<T>.Shared.Rent(entries);
        var defined = ArrayPool<int>.Shared.Rent(entries);
        var repeated = ArrayPool<int>.Shared.Rent(entries);
        try
        {
            int n = 0, e = 0;
            var max = element.MaxDefinitionLevel;
            foreach (var r in rows)
            {
                if (r.Predictions is not { } predictions)
                {
                    defined[e] = 0;
                    repeated[e++] = 0;
                    continue;
                }
                for (var k = 0; k < predictions.Length; k++)
                {
                    var v = value(predictions[k]);
                    if (v is { } present) values[n++] = present;
                    defined[e] = v.HasValue ? max : max - 1;
                    repeated[e++] = k == 0 ? 0 : 1;
                }
            }
            Wait(group.WriteAllPartsAsync<T>(element, values.AsMemory(0, n), defined.AsMemory(0, entries), repeated.AsMemory(0, entries), CancellationToken.None));
        }
        finally
        {
            ArrayPool<T>.Shared.Return(values, clearArray: RuntimeHelpers.IsReferenceOrContainsReferences<T>());
            ArrayPool<int>.Shared.Return(defined);
            ArrayPool<int>.Shared.Return(repeated);
        }
    }

    private static void List<T>(ParquetRowGroupWriter group, DataField element, List<ImageResult> rows, Func<Inference.Prediction, T> value) where T : struct =>
        List<T>(group, element, rows, p => (T?)value(p));

    /// <summary>Parquet.Net's API is asynchronous; the stream under it is a file's, written synchronously.</summary>
    internal static T Wait<T>(Task<T> task) => task.GetAwaiter().GetResult();

    internal static void Wait(Task task) => task.GetAwaiter().GetResult();

    /// <summary>The file's stream with the position Parquet.Net records offsets by (the guarded output stream has
    /// none: it may be a FIFO).</summary>
    private sealed class PositionStream(Stream inner) : Stream
    {
        private long _position;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _position;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            _position += buffer.Length;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flush();
            return Task.CompletedTask;
        }
    }
}
