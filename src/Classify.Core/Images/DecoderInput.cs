using System.Buffers.Binary;

namespace Classify.Images;

/// <summary>
/// What the decoder is given of a file: only what classification needs, so that hostile metadata never reaches
/// ImageSharp and the formats it cannot read in full still give their first picture.
/// </summary>
internal static class DecoderInput
{
    /// <summary>
    /// A PNG with only the chunks that make its pixels (IHDR, PLTE, tRNS, IDAT, IEND). Text, ICC, EXIF and
    /// unknown chunks are dropped before the decoder sees them, so a 1 GiB zTXt or a thousand iTXt chunks cost a
    /// copy at most, never an inflate; APNG's frame chunks go too, which leaves the default image (its first frame,
    /// or the still image shown by viewers without APNG). Returns the input itself when there is nothing to drop.
    /// </summary>
    public static byte[] PngPixelChunks(byte[] png)
    {
        var keep = new List<PngChunk>();
        var dropped = false;
        foreach (var chunk in new PngChunks(png))
        {
            var type = chunk.Type(png);
            if (type.SequenceEqual("IHDR"u8) || type.SequenceEqual("PLTE"u8) || type.SequenceEqual("tRNS"u8)
                || type.SequenceEqual("IDAT"u8) || type.SequenceEqual("IEND"u8))
                keep.Add(chunk);
            else
                dropped = true;
        }
        if (!dropped) return png;
        var result = new byte[8 + keep.Sum(k => (long)k.End - k.Start)];
        png.AsSpan(0, 8).CopyTo(result);
        var at = 8;
        foreach (var chunk in keep)
        {
            png.AsSpan(chunk.Start, chunk.End - chunk.Start).CopyTo(result.AsSpan(at));
            at += chunk.End - chunk.Start;
        }
        return result;
    }

    /// <summary>
    /// The first frame of an animated WebP as a still WebP (ImageSharp 2.1 refuses animation). The frame is taken
    /// as it is coded, without its offset on the canvas. Returns the input itself when it is not animated, and
    /// null when it is animated but has no frame that can be read.
    /// </summary>
    public static byte[]? WebpFirstFrame(byte[] webp)
    {
        var s = webp.AsSpan();
        if (s.Length < 30 || !s[12..16].SequenceEqual("VP8X"u8) || (s[20] & 0x02) == 0)
            return webp;
        long pos = 12;
        while (pos + 8 <= s.Length)
        {
            var length = BinaryPrimitives.ReadUInt32LittleEndian(s[((int)pos + 4)..]);
            if (pos + 8 + length > s.Length)
                return null;
            if (s.Slice((int)pos, 4).SequenceEqual("ANMF"u8) && length >= 16 + 8)
                return StillFromFrame(s.Slice((int)pos + 8, (int)length));
            pos += 8 + length + (length & 1);
        }
        return null;
    }

    private static byte[]? StillFromFrame(ReadOnlySpan<byte> anmf)
    {
        var width = (anmf[6] | anmf[7] << 8 | anmf[8] << 16) + 1;
        var height = (anmf[9] | anmf[10] << 8 | anmf[11] << 16) + 1;
        ReadOnlySpan<byte> alph = default, image = default;
        var pos = 16;
        while (pos + 8 <= anmf.Length)
        {
            var length = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(anmf[(pos + 4)..]), int.MaxValue - 16);
            if (pos + 8 + length > anmf.Length)
                return null;
            var chunk = anmf.Slice(pos, 8 + length);
            var type = anmf.Slice(pos, 4);
            if (type.SequenceEqual("ALPH"u8)) alph = chunk;
            else if (type.SequenceEqual("VP8 "u8) || type.SequenceEqual("VP8L"u8)) { image = chunk; break; }
            pos += 8 + length + (length & 1);
        }
        if (image.IsEmpty)
            return null;
        static int Padded(int n) => n + (n & 1);
        // A lossy frame with an alpha plane needs the extended header that announces it.
        var withAlpha = !alph.IsEmpty && image[..4].SequenceEqual("VP8 "u8);
        var total = 12 + (withAlpha ? 18 + Padded(alph.Length) : 0) + Padded(image.Length);
        var result = new byte[total];
        var w = result.AsSpan();
        "RIFF"u8.CopyTo(w);
        BinaryPrimitives.WriteUInt32LittleEndian(w[4..], (uint)(total - 8));
        "WEBP"u8.CopyTo(w[8..]);
        var at = 12;
        if (withAlpha)
        {
            "VP8X"u8.CopyTo(w[at..]);
            BinaryPrimitives.WriteUInt32LittleEndian(w[(at + 4)..], 10);
            w[at + 8] = 0x10; // alpha
            WriteUInt24(w[(at + 12)..], width - 1);
            WriteUInt24(w[(at + 15)..], height - 1);
            at += 18;
            alph.CopyTo(w[at..]);
            at += Padded(alph.Length);
        }
        image.CopyTo(w[at..]);
        return result;
    }

    private static void WriteUInt24(Span<byte> s, int value)
    {
        s[0] = (byte)value;
        s[1] = (byte)(value >> 8);
        s[2] = (byte)(value >> 16);
    }
}
