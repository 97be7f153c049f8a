using System.Buffers.Binary;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;

namespace Classify.Images;

/// <summary>Checks that an image file's structure reaches the end of the image before it is decoded.</summary>
internal static class ImageStructure
{
    // ImageSharp, like most decoders, fills the missing rows of a cut-off image with zeros and reports nothing
    // (PNG, JPEG, BMP, GIF and WebP alike). A half-downloaded photo would then be classified as something else
    // without a word, so the file's structure is followed to the end of the image: PNG chunk by chunk to IEND,
    // JPEG segment by segment to EOI, GIF block by block to the end of the first frame (the one classified), BMP
    // to the end of its pixel rows, WebP to the end of its RIFF container. Only the structure is followed, so data
    // after the end (the video of a motion photo, padding) and an EXIF thumbnail's own EOI inside APP1 do not fool
    // it, as a search of the file's last bytes would be.
    internal static bool IsTruncated(IImageFormat format, byte[] bytes) => format switch
    {
        PngFormat => !PngReachesEnd(bytes),
        JpegFormat => !JpegReachesEnd(bytes),
        GifFormat => !GifFirstFrameComplete(bytes),
        BmpFormat => !BmpPixelsComplete(bytes),
        WebpFormat => !WebpRiffComplete(bytes),
        _ => false,
    };

    private static bool WebpRiffComplete(ReadOnlySpan<byte> webp) =>
        webp.Length >= 12 && webp.Length >= 8L + BinaryPrimitives.ReadUInt32LittleEndian(webp[4..]);

    private static bool BmpPixelsComplete(ReadOnlySpan<byte> bmp)
    {
        if (bmp.Length < 26)
            return false;
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(bmp[10..]);
        var headerSize = BinaryPrimitives.ReadUInt32LittleEndian(bmp[14..]);
        long width, height;
        int bits, compression = 0;
        long compressedSize = 0;
        if (headerSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(bmp[18..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(bmp[20..]);
            bits = BinaryPrimitives.ReadUInt16LittleEndian(bmp[24..]);
        }
        else
        {
            if (bmp.Length < 38)
                return false;
            width = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bmp[18..]));
            height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bmp[22..]));
            bits = BinaryPrimitives.ReadUInt16LittleEndian(bmp[28..]);
            compression = (int)BinaryPrimitives.ReadUInt32LittleEndian(bmp[30..]);
            compressedSize = BinaryPrimitives.ReadUInt32LittleEndian(bmp[34..]);
        }
        long needed;
        if (compression is 0 or 3 or 6) // BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS: rows padded to 4 bytes
            // The last row's padding is not required: some writers leave it out.
            needed = height == 0 ? 0 : (width * bits + 31) / 32 * 4 * (height - 1) + (width * bits + 7) / 8;
        else
            needed = compressedSize; // RLE and embedded JPEG/PNG give their size; 0 when unknown
        return bmp.Length >= offset + needed;
    }

    private static bool GifFirstFrameComplete(ReadOnlySpan<byte> gif)
    {
        var frame = GifFirstFrame(gif);
        if (frame == GifCutOff)
            return false;
        if (frame == GifNoFrame)
            return true; // the trailer, or a block the decoder will judge: no frame data is cut off here
        if (frame + 10 > gif.Length)
            return false;
        long pos = frame + 10 + GifColorTableSize(gif[frame + 9]) + 1;
        return GifSkipSubBlocks(gif, ref pos);
    }

    internal const int GifNoFrame = -1, GifCutOff = -2;

    /// <summary>Where the first image descriptor (0x2C) of a GIF starts, after the header, the global colour table
    /// and any extensions; <see cref="GifNoFrame"/> when another block comes first, <see cref="GifCutOff"/> when the
    /// file ends before.</summary>
    internal static int GifFirstFrame(ReadOnlySpan<byte> gif)
    {
        if (gif.Length < 13)
            return GifCutOff;
        long pos = 13 + GifColorTableSize(gif[10]);
        while (pos < gif.Length)
        {
            switch (gif[(int)pos])
            {
                case 0x21: // extension: label, then sub-blocks
                    pos += 2;
                    if (!GifSkipSubBlocks(gif, ref pos))
                        return GifCutOff;
                    break;
                case 0x2C:
                    return (int)pos;
                default:
                    return GifNoFrame;
            }
        }
        return GifCutOff;
    }

    internal static int GifColorTableSize(byte packed) => (packed & 0x80) != 0 ? 3 << ((packed & 7) + 1) : 0;

    private static bool GifSkipSubBlocks(ReadOnlySpan<byte> gif, ref long pos)
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

    private static bool PngReachesEnd(ReadOnlySpan<byte> png)
    {
        var chunks = new PngChunks(png);
        while (chunks.MoveNext()) { }
        return chunks.ReachedEnd;
    }

    private static bool JpegReachesEnd(ReadOnlySpan<byte> jpeg)
    {
        var segments = new JpegSegments(jpeg);
        while (segments.MoveNext()) { }
        return segments.ReachedEnd;
    }
}
