using System.Buffers.Binary;
using Classify.Pipeline;

namespace Classify.Output.Features;

/// <summary>
/// --features: the embeddings of a run, one row per result record in the same order (input order), written beside the
/// results file as a .npy that appears only when complete (temporary file + rename, as <see cref="AtomicFile"/>): rows
/// go out as they come, and the header's row count is written over its placeholder at the end. A failed image's row is
/// zeros (its error is in the results), so row i is always the results file's record i.
/// </summary>
public sealed class FeaturesFile : IDisposable
{
    private readonly AtomicFile _file;
    private readonly byte[] _row;
    private readonly int _width;
    private readonly System.Security.Cryptography.IncrementalHash _sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);

    public FeaturesFile(string path, int width, FeaturesDtype dtype)
    {
        _file = new AtomicFile(path);
        _width = width;
        Dtype = dtype;
        _row = new byte[new NpyHeader(dtype, 0, width).RowBytes];
        // The placeholder: the same length as the final header, so rows start where they will stay.
        _file.Stream.Write(new NpyHeader(dtype, 0, width).ToBytes());
    }

    /// <summary>results.jsonl -> results.features.npy, results.shard-0003-of-0016.jsonl -> results.shard-0003-of-0016.features.npy.</summary>
    public static string PathFor(string results) => System.IO.Path.ChangeExtension(results, null) + ".features.npy";

    public FeaturesDtype Dtype { get; }
    public long Rows { get; private set; }
    public string Path => _file.Path;

    /// <summary>Writes <paramref name="result"/>'s row: its embedding, or zeros for a failed image.</summary>
    public void Write(ImageResult result)
    {
        if (result.Features is { } f && f.Length != _width)
            throw new InvalidDataException($"{result.File}: an embedding of {f.Length} values where the run's have {_width}");
        Write(result.Features);
    }

    public void Write(ReadOnlySpan<float> row)
    {
        if (row.IsEmpty)
            Array.Clear(_row);
        else if (Dtype == FeaturesDtype.Float16)
            for (var i = 0; i < _width; i++) BinaryPrimitives.WriteHalfLittleEndian(_row.AsSpan(2 * i), (Half)row[i]);
        else
            for (var i = 0; i < _width; i++) BinaryPrimitives.WriteSingleLittleEndian(_row.AsSpan(4 * i), row[i]);
        _file.Stream.Write(_row);
        _sha.AppendData(_row);
        Rows++;
    }

    /// <summary>Copies whole rows (already in this file's dtype) from another file (merge).</summary>
    public void WriteRaw(ReadOnlySpan<byte> rows)
    {
        _file.Stream.Write(rows);
        _sha.AppendData(rows);
        Rows += rows.Length / _row.Length;
    }

    /// <summary>Writes the final header and renames the file into place.</summary>
    public void Commit()
    {
        try
        {
            _file.Stream.Flush();
            if (_file.TempPath is { } temp)
            {
                using var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.Write);
                RandomAccess.Write(handle, new NpyHeader(Dtype, Rows, _width).ToBytes(), 0);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OutputFaults.Of(e, Path);
        }
        _file.Commit();
    }

    /// <summary>SHA-256 of the rows written so far (a shard's trailer names it; merge checks it).</summary>
    public string RowsSha256 => Convert.ToHexStringLower(_sha.GetCurrentHash());

    public void Dispose()
    {
        _sha.Dispose();
        _file.Dispose();
    }
}
