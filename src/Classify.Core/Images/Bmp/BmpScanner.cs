using System.Buffers.Binary;

namespace Classify.Images.Bmp;

/// <summary>What classify reads of a BMP before decoding it, from its headers.</summary>
/// <param name="Truncated">Whether the file ends before its pixel rows (or its headers) do.</param>
/// <param name="Width">The width its info header gives, without sign.</param>
/// <param name="Height">The height its info header gives, without sign (a negative height means top-down rows).</param>
internal readonly record struct BmpScan(bool Truncated, long Width, long Height);

/// <summary>
/// The one reader of a BMP's file and info headers: BITMAPCOREHEADER's 16-bit fields or the 32-bit ones of every later
/// header, the pixel data's offset, bits per pixel and compression. From them, whether the file reaches the end of its
/// pixel rows (ImageSharp fills missing rows with zeros and reports nothing) and the size, which the loader checks
/// against what ImageSharp's BMP decoder takes.
/// </summary>
internal static class BmpScanner
{
    public static BmpScan Scan(ReadOnlySpan<byte> bmp)
    {
        if (bmp.Length < 26)
            return new BmpScan(true, 0, 0);
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
            width = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bmp[18..]));
            height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bmp[22..]));
            if (bmp.Length < 38)
                return new BmpScan(true, width, height);
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
        return new BmpScan(bmp.Length < offset + needed, width, height);
    }
}
