using System.Buffers.Binary;

namespace Classify.Images.WebP;

/// <summary>
/// The first frame of an animated WebP as a still WebP (ImageSharp 2.1 refuses animation). The frame is taken as it
/// is coded, without its offset on the canvas.
/// </summary>
internal static class WebpFirstFrame
{
    /// <summary>A still WebP of the frame whose ANMF data is <paramref name="anmf"/>, or null when it holds no image.</summary>
    public static byte[]? Still(ReadOnlySpan<byte> anmf)
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
