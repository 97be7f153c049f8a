using Parquet.Schema;

namespace Classify.Output;

/// <summary>
/// The columns of <c>--format parquet</c>: one row per image, in input order, named as csv names them. The top-k is
/// four list columns of equal length (rank r is element r of each): <c>label</c>, <c>class</c>, <c>score</c>,
/// <c>synset</c>; a failed image has null lists and <c>error</c>, <c>error_code</c>, <c>error_kind</c> set.
/// <c>score</c> is the float32 the model gave, unrounded (jsonl and csv print it with six decimals).
/// <para>File names: <c>file</c> is UTF-8 text; a name that is not UTF-8 has its invalid bytes written as <c>\xe9</c>
/// there, as classify's messages do, and its exact bytes in <c>file_bytes</c> (null for every UTF-8 name), so
/// <c>os.fsdecode(file_bytes)</c> gives what Python's json.loads gives from the jsonl line.</para>
/// A shard's file carries its <see cref="ShardTrailer"/> as the key-value metadata <see cref="ShardKey"/>.
/// </summary>
internal static class ParquetColumns
{
    /// <summary>The key-value metadata that holds a shard's trailer JSON (jsonl's last line).</summary>
    public const string ShardKey = "classify_shard";

    public static readonly DataField File = new DataField<string>("file", nullable: false);
    public static readonly DataField Label = new DataField<string>("element", nullable: false);
    public static readonly DataField Class = new DataField<int>("element");
    public static readonly DataField Score = new DataField<float>("element");
    public static readonly DataField Synset = new DataField<string>("element", nullable: true);
    public static readonly DataField Error = new DataField<string>("error", nullable: true);
    public static readonly DataField ErrorCode = new DataField<int?>("error_code");
    public static readonly DataField ErrorKind = new DataField<string>("error_kind", nullable: true);
    public static readonly DataField Device = new DataField<string>("device", nullable: true);
    public static readonly DataField Model = new DataField<string>("model", nullable: true);
    public static readonly DataField ModelSha256 = new DataField<string>("model_sha256", nullable: true);
    public static readonly DataField ClassifyVersion = new DataField<string>("classify_version", nullable: true);
    public static readonly DataField FileBytes = new DataField<byte[]>("file_bytes", nullable: true);

    /// <summary>In the order of the file (and of the writes: Parquet.Net takes columns in schema order).</summary>
    public static readonly ParquetSchema Schema = new(
        File,
        new ListField("label", Label),
        new ListField("class", Class),
        new ListField("score", Score),
        new ListField("synset", Synset),
        Error, ErrorCode, ErrorKind, Device, Model, ModelSha256, ClassifyVersion, FileBytes);

    /// <summary>"PAR1", the first and last four bytes of every Parquet file.</summary>
    public static bool IsParquet(ReadOnlySpan<byte> head) => head.StartsWith("PAR1"u8);
}
