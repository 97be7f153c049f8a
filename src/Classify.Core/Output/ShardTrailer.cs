using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Classify.Inputs;

namespace Classify.Output;

/// <summary>
/// The last line of a shard's jsonl file: which shard of which split it is, how many records it holds and digests
/// of the input names, so that <c>classify merge</c> can prove the shards are exactly one complete split instead of
/// trusting file names. An emptied shard, one cut at a line boundary, another split's file under the right name or the
/// same content under two names are all detectable from it; a file name says none of that.
/// <code>{"classify_shard":{"index":3,"count":16,"records":13,"files_sha256":"…","inputs":208,"inputs_sha256":"…","top_k":5,"backend":"onnxruntime","device":"cpu"}}</code>
/// </summary>
/// <param name="FilesSha256">SHA-256 of this shard's record names (<see cref="NameDigest"/>).</param>
/// <param name="Inputs">How many inputs the whole split has (all shards together).</param>
/// <param name="InputsSha256">SHA-256 of all the split's input names in order: the shards' record names, joined in
/// shard order, must give it.</param>
/// <param name="FeaturesSha256">--features: SHA-256 of the rows (the data after the header) of the shard's .features.npy,
/// which merge checks the file beside it against (an embeddings file of another run is refused); null without.</param>
public sealed record ShardTrailer(int Index, int Count, long Records, string FilesSha256, long Inputs, string InputsSha256,
    int TopK, string Backend, string Device, string? FeaturesSha256 = null)
{
    private const string Key = "classify_shard";

    public Shard Shard => new(Index, Count);

    /// <summary>The line, without its newline.</summary>
    public byte[] ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, ResultJson.Options))
        {
            json.WriteStartObject();
            json.WriteStartObject(Key);
            json.WriteNumber("index", Index);
            json.WriteNumber("count", Count);
            json.WriteNumber("records", Records);
            json.WriteString("files_sha256", FilesSha256);
            json.WriteNumber("inputs", Inputs);
            json.WriteString("inputs_sha256", InputsSha256);
            json.WriteNumber("top_k", TopK);
            json.WriteString("backend", Backend);
            json.WriteString("device", Device);
            if (FeaturesSha256 is not null) json.WriteString("features_sha256", FeaturesSha256);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>Whether <paramref name="line"/> starts like a trailer (then it must parse as one).</summary>
    public static bool LooksLikeOne(ReadOnlySpan<byte> line) => line.StartsWith("{\"classify_shard\""u8);

    /// <summary>The trailer on <paramref name="line"/>, or null when it is not one classify wrote (every field present,
    /// of its type and in range, nothing after the object).</summary>
    public static ShardTrailer? TryParse(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (reader.BytesConsumed != line.Length || doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty(Key, out var t) || t.ValueKind != JsonValueKind.Object)
                return null;
            var trailer = new ShardTrailer(t.GetProperty("index").GetInt32(), t.GetProperty("count").GetInt32(),
                t.GetProperty("records").GetInt64(), Text(t, "files_sha256"), t.GetProperty("inputs").GetInt64(), Text(t, "inputs_sha256"),
                t.GetProperty("top_k").GetInt32(), Text(t, "backend"), Text(t, "device"),
                t.TryGetProperty("features_sha256", out _) ? Text(t, "features_sha256") : null);
            if (trailer.Count < 1 || trailer.Index < 0 || trailer.Index >= trailer.Count || trailer.Records < 0
                || trailer.Inputs < 0 || trailer.Inputs > int.MaxValue || trailer.TopK < 1)
                return null;
            return trailer;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return null;
        }
    }

    /// <summary>The trailer of the shard file at <paramref name="path"/>: its last line.</summary>
    /// <exception cref="InvalidDataException">The file does not end with one; the message says what it is instead.</exception>
    public static ShardTrailer ReadFrom(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        if (file.Length == 0)
            throw new InvalidDataException("is empty: a finished shard holds at least its trailer line (did its task end before writing it?)");
        Span<byte> head = stackalloc byte[24];
        var headLength = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (ParquetColumns.IsParquet(head[..headLength]))
            return ParquetResultReader.ReadTrailer(path);
        if (head[..headLength].StartsWith("{\"classify_journal\""u8))
            throw new InvalidDataException("is the resume journal of an unfinished task, not a finished shard");
        // A trailer is a few hundred bytes; the tail read holds it and the newline before it.
        var tail = new byte[(int)Math.Min(file.Length, 4096)];
        file.Position = file.Length - tail.Length;
        file.ReadExactly(tail);
        if (tail[^1] != (byte)'\n')
            throw new InvalidDataException("truncated: its last line has no end (its task was killed while writing it?)");
        var start = Array.LastIndexOf(tail, (byte)'\n', tail.Length - 2) + 1;
        var last = tail.AsSpan(start, tail.Length - 1 - start);
        if (start == 0 && file.Length > tail.Length)
            last = [];
        if (TryParse(last) is { } trailer)
            return trailer;
        throw new InvalidDataException(LooksLikeOne(last)
            ? "its shard trailer (last line) is damaged"
            : "has no shard trailer (the last line a sharded classify run writes): not a finished shard of a sharded jsonl run (--shard, a Slurm array, MPI or srun ranks), cut short at a line end, or written by an older classify");
    }

    private static string Text(JsonElement e, string name) =>
        e.GetProperty(name) is { ValueKind: JsonValueKind.String } v ? v.GetString()! : throw new FormatException($"{name} is not a string");

    public override string ToString() => $"shard {Index.ToString(CultureInfo.InvariantCulture)} of {Count.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>The split a sharded run belongs to: its shard, and the whole input list's length and digest.</summary>
public sealed record ShardSplit(Shard Shard, int Inputs, string InputsSha256)
{
    public static ShardSplit Of(Shard shard, IReadOnlyList<string> allInputs) => new(shard, allInputs.Count, NameDigest.Of(allInputs));
}

/// <summary>SHA-256 over a sequence of file names, each as its bytes and a newline.</summary>
public sealed class NameDigest : IDisposable
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public void Add(string name)
    {
        _hash.AppendData(FileNames.ToBytes(name));
        _hash.AppendData("\n"u8);
    }

    public string Finish() => Convert.ToHexStringLower(_hash.GetHashAndReset());

    public static string Of(IEnumerable<string> names)
    {
        using var digest = new NameDigest();
        foreach (var name in names) digest.Add(name);
        return digest.Finish();
    }

    public void Dispose() => _hash.Dispose();
}
