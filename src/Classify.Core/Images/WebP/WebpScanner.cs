using System.Buffers.Binary;

namespace Classify.Images.WebP;

/// <summary>What classify reads of a WebP before decoding it, from one walk of its RIFF chunks.</summary>
/// <param name="Truncated">Whether the file ends before its RIFF container does.</param>
/// <param name="Orientation">The EXIF orientation (1-8) of its first EXIF chunk.</param>
/// <param name="Animated">Whether its VP8X header announces an animation.</param>
/// <param name="FrameStart">Where the data of its first ANMF chunk starts, or -1 when it has none whole.</param>
/// <param name="FrameLength">The length of that chunk's data.</param>
internal readonly record struct WebpScan(bool Truncated, int Orientation, bool Animated, int FrameStart, int FrameLength)
{
    /// <summary>
    /// The bytes the decoder gets: the WebP itself unless it is animated, else its first frame as a still WebP
    /// (ImageSharp 2.1 refuses animation; <see cref="WebpFirstFrame"/>), or null when it is animated but has no frame
    /// that can be read.
    /// </summary>
    public byte[]? DecoderBytes(byte[] webp) =>
        !Animated ? webp : FrameStart < 0 ? null : WebpFirstFrame.Still(webp.AsSpan(FrameStart, FrameLength));
}

/// <summary>One pass over a WebP's top-level chunks for its EXIF orientation and its first animation frame; the
/// RIFF header gives whether it is whole.</summary>
internal static class WebpScanner
{
    public static WebpScan Scan(ReadOnlySpan<byte> webp)
    {
        var truncated = !(webp.Length >= 12 && webp.Length >= 8L + BinaryPrimitives.ReadUInt32LittleEndian(webp[4..]));
        var animated = webp.Length >= 30 && webp[12..16].SequenceEqual("VP8X"u8) && (webp[20] & 0x02) != 0;
        var orientation = ExifOrientation.Upright;
        bool exifFound = false;
        int frameStart = -1, frameLength = 0;
        long pos = 12;
        // Walked until a chunk is cut off, or both are found: a frame only matters when the file is animated.
        while (pos + 8 <= webp.Length && !(exifFound && (frameStart >= 0 || !animated)))
        {
            var length = BinaryPrimitives.ReadUInt32LittleEndian(webp[((int)pos + 4)..]);
            if (pos + 8 + length > webp.Length)
                break;
            var type = webp.Slice((int)pos, 4);
            if (!exifFound && type.SequenceEqual("EXIF"u8))
            {
                var data = webp.Slice((int)pos + 8, (int)length);
                // Some writers keep JPEG's "Exif\0\0" prefix inside the chunk.
                orientation = ExifOrientation.FromTiff(data.StartsWith("Exif\0\0"u8) ? data[6..] : data);
                exifFound = true;
            }
            else if (animated && frameStart < 0 && type.SequenceEqual("ANMF"u8) && length >= 16 + 8)
                (frameStart, frameLength) = ((int)pos + 8, (int)length);
            pos += 8 + length + (length & 1);
        }
        return new WebpScan(truncated, orientation, animated, frameStart, frameLength);
    }
}
