using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Classify.Inputs;
using Classify.Pipeline;

namespace Classify.Output;

public enum OutputFormat { Text, Json, Jsonl, Csv, Parquet }

/// <summary>What made a result: the model by name, the SHA-256 of the model file that ran (names are reused, a file's
/// bytes are not: this is what tells two runs of "squeezenet1.1" apart after the file was replaced, or its fp16 twin
/// from it) and classify's version (version+commit: preprocessing changes between builds move scores). jsonl and csv
/// carry it on every record, so that lines joined from many runs still say how each was made; json once at the top.
/// Nothing in it varies between two runs of the same build on the same model, so output stays byte-stable.</summary>
public sealed record Provenance(string Model, string ModelSha256, string ClassifyVersion);

/// <summary>Facts about a run that the json format records once at the top. <see cref="Made"/> is null only for
/// results written before classify recorded it. <see cref="Split"/>: the run is one shard of a split, and its jsonl
/// ends with a <see cref="ShardTrailer"/>.</summary>
public sealed record RunInfo(Provenance? Made, string Backend, string Device, int TopK, ShardSplit? Split = null)
{
    /// <summary>--features: the digest of the embeddings written so far, for a shard's trailer (asked for at the end).</summary>
    public Func<string?>? FeaturesSha256 { get; init; }
}

/// <summary>
/// Streams results in input order to a writer, one image at a time, so ten million images never sit in
/// memory. Call <see cref="Write"/> per image and <see cref="Complete"/> once at the end.
/// </summary>
public abstract class ResultWriter
{
    protected static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    protected ResultWriter(TextWriter writer) => Writer = writer;

    protected TextWriter Writer { get; }

    public static ResultWriter Create(OutputFormat format, TextWriter writer, RunInfo info, bool singleInput) => format switch
    {
        OutputFormat.Text => new TextResultWriter(writer, singleInput),
        OutputFormat.Json => new JsonResultWriter(writer, info),
        OutputFormat.Jsonl => new JsonlResultWriter(writer, info),
        OutputFormat.Csv => new CsvResultWriter(writer, info.Made),
        OutputFormat.Parquet => new ParquetResultWriter(writer, info),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    /// <summary>UTF-8 text to <paramref name="stream"/>, with the bytes of names that are not UTF-8 as they are.</summary>
    public static TextWriter OpenText(Stream stream, bool autoFlush = false) => new RawNameWriter(stream) { NewLine = "\n", AutoFlush = autoFlush };

    public abstract void Write(ImageResult result);

    public virtual void Complete() => Writer.Flush();

    /// <summary>classify_image.py's "%.5f" (the text format, byte-exact).</summary>
    internal static string Score(float score) => score.ToString("F5", CultureInfo.InvariantCulture);

    /// <summary>The machine formats' score (json, jsonl, csv alike): "%.6f" of the float, fixed-point as printf rounds
    /// it. Not the shortest round-trip form, which prints 7.4E-05 in json while csv printed 0.00007.</summary>
    public static string MachineScore(float score) => ((double)score).ToString("F6", CultureInfo.InvariantCulture);
}

/// <summary>classify_image.py's format: <c>%s (score = %.5f)</c> per prediction, no header, for one image.
/// Several images are each introduced by <c>==&gt; FILE &lt;==</c>, as head(1) does.</summary>
internal sealed class TextResultWriter(TextWriter writer, bool singleInput) : ResultWriter(writer)
{
    private bool _first = true;

    public override void Write(ImageResult result)
    {
        if (!singleInput)
        {
            if (!_first) Writer.WriteLine();
            Writer.WriteLine($"==> {ClassifyException.Printable(result.File, keepBytes: true)} <==");
        }
        _first = false;
        if (result.Error is { } error)
        {
            if (!singleInput) Writer.WriteLine($"error: {error.Message}");
            return;
        }
        foreach (var p in result.Predictions!)
            Writer.WriteLine($"{p.Label} (score = {Score(p.Score)})");
    }
}

/// <summary>One result per line. A shard's file carries scores unrounded (so that merge renders every format as one
/// run would: rounding the 6-decimal jsonl again to text's 5 is off by one in the last digit) and ends with its
/// <see cref="ShardTrailer"/>.</summary>
internal sealed class JsonlResultWriter(TextWriter writer, RunInfo info) : ResultWriter(writer)
{
    private readonly MemoryStream _buffer = new();
    private readonly NameDigest? _files = info.Split is null ? null : new NameDigest();
    private long _records;

    public override void Write(ImageResult result)
    {
        _buffer.SetLength(0);
        using (var json = new Utf8JsonWriter(_buffer, ResultJson.Options))
            ResultJson.Write(json, result, exactScores: info.Split is not null, made: info.Made);
        _buffer.WriteByte((byte)'\n');
        var line = _buffer.GetBuffer().AsSpan(0, (int)_buffer.Length);
        // The record's bytes as they are onto a file or standard output; a test's writer gets them as text.
        if (Writer is RawNameWriter raw) raw.WriteUtf8(line, endsLine: true);
        else Writer.Write(Utf8.GetString(line));
        _records++;
        _files?.Add(result.File);
    }

    public override void Complete()
    {
        if (info.Split is { } split)
        {
            var trailer = new ShardTrailer(split.Shard.Index, split.Shard.Count, _records, _files!.Finish(), split.Inputs,
                split.InputsSha256, info.TopK, info.Backend, info.Device, info.FeaturesSha256?.Invoke());
            Writer.WriteLine(Utf8.GetString(trailer.ToJson()));
        }
        base.Complete();
    }
}

internal sealed class JsonResultWriter : ResultWriter
{
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;

    public JsonResultWriter(TextWriter writer, RunInfo info) : base(writer)
    {
        _stream = new TextWriterStream(writer);
        _json = new Utf8JsonWriter(_stream, ResultJson.Options with { Indented = true });
        _json.WriteStartObject();
        _json.WriteString("model", info.Made?.Model ?? "unknown");
        _json.WriteString("model_sha256", info.Made?.ModelSha256 ?? "unknown");
        _json.WriteString("backend", info.Backend);
        _json.WriteString("device", info.Device);
        _json.WriteString("classify_version", info.Made?.ClassifyVersion ?? "unknown");
        _json.WriteNumber("top_k", info.TopK);
        _json.WriteStartArray("results");
    }

    public override void Write(ImageResult result)
    {
        ResultJson.Write(_json, result);
        if (_json.BytesPending > 1 << 16) _json.Flush();
    }

    public override void Complete()
    {
        _json.WriteEndArray();
        _json.WriteEndObject();
        _json.Flush();
        Writer.WriteLine();
        base.Complete();
    }

    /// <summary>Lets Utf8JsonWriter stream into the same TextWriter as the other formats.</summary>
    private sealed class TextWriterStream(TextWriter writer) : Stream
    {
        public override void Write(byte[] buffer, int offset, int count)
        {
            if (writer is RawNameWriter raw) raw.WriteUtf8(buffer.AsSpan(offset, count));
            else writer.Write(Utf8.GetString(buffer, offset, count));
        }
        public override void Flush() { }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>One row per prediction (rank 1..k); a failed image is one row with the error filled in.</summary>
internal sealed class CsvResultWriter : ResultWriter
{
    // New columns go at the end (error_code and error_kind after error, then synset and the provenance), so that
    // readers of the earlier columns by position keep working. The provenance is on every row, as in jsonl: rows
    // of many runs concatenated, or sorted, still say how each was made.
    private readonly string _made;

    public CsvResultWriter(TextWriter writer, Provenance? made) : base(writer)
    {
        _made = made is null ? ",," : $"{Quote(made.Model)},{Quote(made.ModelSha256)},{Quote(made.ClassifyVersion)}";
        Writer.WriteLine("file,rank,label,class,score,error,error_code,error_kind,synset,model,model_sha256,classify_version");
    }

    public override void Write(ImageResult result)
    {
        if (result.Error is { } error)
        {
            Writer.WriteLine($"{Quote(result.File)},,,,,{Quote(error.Message)},{error.Code},{error.Kind},,{_made}");
            return;
        }
        var rank = 1;
        foreach (var p in result.Predictions!)
            Writer.WriteLine($"{Quote(result.File)},{rank++},{Quote(p.Label)},{p.Class},{MachineScore(p.Score)},,,,{Quote(p.Synset ?? "")},{_made}");
    }

    private static string Quote(string s) =>
        s.AsSpan().IndexOfAny(",\"\r\n") < 0 ? s : "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
