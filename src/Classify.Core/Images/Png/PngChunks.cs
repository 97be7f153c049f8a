using System.Buffers.Binary;

namespace Classify.Images.Png;

/// <summary>One chunk of a PNG: where it starts in the file and the length of its data.</summary>
internal readonly record struct PngChunk(int Start, int Length)
{
    public int End => Start + 12 + Length;
    public ReadOnlySpan<byte> Type(ReadOnlySpan<byte> png) => png.Slice(Start + 4, 4);
    public ReadOnlySpan<byte> Data(ReadOnlySpan<byte> png) => png.Slice(Start + 8, Length);
    public bool Is(ReadOnlySpan<byte> png, ReadOnlySpan<byte> type) => Type(png).SequenceEqual(type);
}

/// <summary>
/// The chunks of a PNG in file order (length, type, data, CRC), up to and including IEND; the walk stops early at
/// the first chunk the file cuts off, and <see cref="ReachedEnd"/> then stays false. <see cref="PngScanner"/> walks it once
/// for everything classify reads of a PNG.
/// </summary>
internal ref struct PngChunks(ReadOnlySpan<byte> png)
{
    private readonly ReadOnlySpan<byte> _png = png;
    private long _next = 8; // after the signature

    public PngChunk Current { get; private set; }

    /// <summary>Whether the walk got to IEND, every chunk before it whole.</summary>
    public bool ReachedEnd { get; private set; }

    public readonly PngChunks GetEnumerator() => this;

    public bool MoveNext()
    {
        if (ReachedEnd || _next + 12 > _png.Length)
            return false;
        var length = BinaryPrimitives.ReadUInt32BigEndian(_png[(int)_next..]);
        if (_next + 12 + length > _png.Length)
            return false;
        Current = new PngChunk((int)_next, (int)length);
        _next += 12 + length;
        ReachedEnd = Current.Is(_png, "IEND"u8);
        return true;
    }
}
