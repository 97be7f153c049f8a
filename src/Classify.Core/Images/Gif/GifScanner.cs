namespace Classify.Images.Gif;

/// <summary>What classify reads of a GIF before decoding it: whether its first frame (the one classified) is whole,
/// and why its data is corrupt, or null.</summary>
internal readonly record struct GifScan(bool Truncated, string? Problem);

/// <summary>
/// One pass over a GIF's blocks to the end of its first frame: the header, the global colour table, any extensions,
/// the image descriptor and the frame's data sub-blocks. Whether they are all there is the truncation check
/// (ImageSharp fills a cut-off frame without a word); whether the frame's LZW codes cover all of its pixels is the
/// data check (ImageSharp stops at the end of a short or broken LZW stream and leaves the rest of the frame
/// background-coloured, without a word). The codes are followed for their lengths only: no pixels are made.
/// </summary>
internal static class GifScanner
{
    private const int NoFrame = -1, CutOff = -2;

    public static GifScan Scan(ReadOnlySpan<byte> gif)
    {
        var frame = FirstFrame(gif);
        if (frame == CutOff)
            return new GifScan(true, null);
        if (frame == NoFrame)
            return new GifScan(false, null); // the trailer, or a block the decoder will judge: no frame data is cut off here
        if (frame + 10 > gif.Length)
            return new GifScan(true, null);
        var data = frame + 10 + ColorTableSize(gif[frame + 9]);
        long pos = data + 1;
        if (!SkipSubBlocks(gif, ref pos))
            return new GifScan(true, null);
        return new GifScan(false, DataProblem(gif, frame, data));
    }

    /// <summary>Where the first image descriptor (0x2C) starts, after the header, the global colour table and any
    /// extensions; <see cref="NoFrame"/> when another block comes first, <see cref="CutOff"/> when the file ends
    /// before.</summary>
    private static int FirstFrame(ReadOnlySpan<byte> gif)
    {
        if (gif.Length < 13)
            return CutOff;
        long pos = 13 + ColorTableSize(gif[10]);
        while (pos < gif.Length)
        {
            switch (gif[(int)pos])
            {
                case 0x21: // extension: label, then sub-blocks
                    pos += 2;
                    if (!SkipSubBlocks(gif, ref pos))
                        return CutOff;
                    break;
                case 0x2C:
                    return (int)pos;
                default:
                    return NoFrame;
            }
        }
        return CutOff;
    }

    private static int ColorTableSize(byte packed) => (packed & 0x80) != 0 ? 3 << ((packed & 7) + 1) : 0;

    private static bool SkipSubBlocks(ReadOnlySpan<byte> gif, ref long pos)
    {
        while (pos < gif.Length)
        {
            var size = gif[(int)pos];
            pos += 1 + size;
            if (size == 0)
                return pos <= gif.Length;
        }
        return false;
    }

    /// <summary>Whether the LZW data of the frame at <paramref name="frame"/>, whose data (minimum code size, then
    /// sub-blocks) starts at <paramref name="data"/>, codes all of its pixels.</summary>
    private static string? DataProblem(ReadOnlySpan<byte> gif, int frame, int data)
    {
        if (frame + 11 > gif.Length || data >= gif.Length)
            return null;
        long width = gif[frame + 5] | gif[frame + 6] << 8, height = gif[frame + 7] | gif[frame + 8] << 8;
        var minimum = gif[data];
        if (minimum is < 1 or > 11)
            return $"corrupt GIF: LZW code size {minimum}";
        var expected = width * height;
        var coded = LzwPixels(gif, data + 1, minimum, expected, out var bad);
        if (bad)
            return "corrupt GIF image data (an LZW code that is not in the table)";
        return coded < expected ? $"corrupt GIF: its first frame's data ends after {coded:N0} of its {expected:N0} pixels" : null;
    }

    /// <summary>How many pixels the LZW codes in the sub-blocks from <paramref name="pos"/> decode to (GIF's variant:
    /// codes least-significant bit first, the code size growing to 12 bits, clear and end codes).</summary>
    private static long LzwPixels(ReadOnlySpan<byte> gif, int pos, int minimum, long enough, out bool bad)
    {
        bad = false;
        Span<short> lengths = stackalloc short[4096];
        int clear = 1 << minimum, end = clear + 1, size = minimum + 1, next = clear + 2, previous = -1;
        for (var i = 0; i < clear; i++) lengths[i] = 1;
        long pixels = 0;
        int bits = 0, buffer = 0, block = 0;
        while (pixels < enough)
        {
            while (bits < size)
            {
                if (block == 0)
                {
                    if (pos >= gif.Length || (block = gif[pos++]) == 0)
                        return pixels; // the data ends
                }
                if (pos >= gif.Length)
                    return pixels;
                buffer |= gif[pos++] << bits;
                bits += 8;
                block--;
            }
            var code = buffer & ((1 << size) - 1);
            buffer >>= size;
            bits -= size;
            if (code == clear)
            {
                (size, next, previous) = (minimum + 1, clear + 2, -1);
                continue;
            }
            if (code == end)
                return pixels;
            int length;
            if (previous < 0)
                length = code < clear ? 1 : -1;
            else if (code < next)
                length = lengths[code];
            else if (code == next)
                length = lengths[previous] + 1;
            else
                length = -1;
            if (length <= 0)
            {
                bad = true;
                return pixels;
            }
            pixels += length;
            if (previous >= 0 && next < 4096)
            {
                lengths[next] = (short)Math.Min(lengths[previous] + 1, short.MaxValue);
                next++;
                if (next == 1 << size && size < 12)
                    size++;
            }
            previous = code;
        }
        return pixels;
    }
}
