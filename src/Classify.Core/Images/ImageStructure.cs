using System.Buffers.Binary;
using System.IO.Compression;
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
        static int ColorTableSize(byte packed) => (packed & 0x80) != 0 ? 3 << ((packed & 7) + 1) : 0;

        static bool SkipSubBlocks(ReadOnlySpan<byte> gif, ref long pos)
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

        if (gif.Length < 13)
            return false;
        long pos = 13 + ColorTableSize(gif[10]);
        while (pos < gif.Length)
        {
            switch (gif[(int)pos])
            {
                case 0x21: // extension: label, then sub-blocks
                    pos += 2;
                    if (!SkipSubBlocks(gif, ref pos))
                        return false;
                    break;
                case 0x2C: // image descriptor, local colour table, LZW code size, then the pixel sub-blocks
                    if (pos + 10 > gif.Length)
                        return false;
                    pos += 10 + ColorTableSize(gif[(int)pos + 9]) + 1;
                    return SkipSubBlocks(gif, ref pos);
                default: // the trailer, or a block the decoder will judge: no frame data is cut off here
                    return true;
            }
        }
        return false;
    }

    private static bool PngReachesEnd(ReadOnlySpan<byte> png)
    {
        long pos = 8; // the signature
        while (pos + 8 <= png.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            var next = pos + 12 + length; // length, type, data, CRC
            if (next > png.Length)
                return false;
            if (png.Slice((int)pos + 4, 4).SequenceEqual("IEND"u8))
                return true;
            pos = next;
        }
        return false;
    }

    private static bool JpegReachesEnd(ReadOnlySpan<byte> jpeg)
    {
        var pos = 2; // SOI
        while (pos + 1 < jpeg.Length)
        {
            if (jpeg[pos] != 0xFF)
            {
                // Stray bytes between segments, which decoders skip too.
                pos++;
                continue;
            }
            var marker = jpeg[pos + 1];
            if (marker == 0xD9)
                return true; // EOI
            if (marker is 0xFF)
            {
                pos++; // fill byte
                continue;
            }
            if (marker is 0x00 or 0x01 or >= 0xD0 and <= 0xD7)
            {
                pos += 2; // no length: stuffed zero, TEM, RSTn
                continue;
            }
            if (pos + 3 >= jpeg.Length)
                return false;
            pos += 2 + ((jpeg[pos + 2] << 8) | jpeg[pos + 3]);
            if (marker == 0xDA)
            {
                // SOS: entropy-coded data runs to the next marker; 0xFF is escaped as FF00 there and RSTn interleave.
                while (pos + 1 < jpeg.Length)
                {
                    var ff = jpeg[pos..].IndexOf((byte)0xFF);
                    if (ff < 0)
                        return false;
                    pos += ff;
                    if (pos + 1 >= jpeg.Length)
                        return false;
                    var m = jpeg[pos + 1];
                    if (m is not (0x00 or >= 0xD0 and <= 0xD7))
                        break;
                    pos += 2;
                }
            }
        }
        return false;
    }

    /// <summary>
    /// Whether a PNG's compressed image data inflates to as many bytes as its header's size needs. ImageSharp, like
    /// libpng's callers that ignore its warning, fills rows missing from a short zlib stream with zeros and reports
    /// nothing. The data is inflated once into a small scratch buffer and never past the size the header gives, so a
    /// decompression bomb costs no more here than in the decoder. Returns null when complete, else the problem.
    /// </summary>
    internal static string? PngDataProblem(byte[] png, CancellationToken cancel)
    {
        if (png.Length < 33 || !png.AsSpan(12, 4).SequenceEqual("IHDR"u8))
            return null; // the decoder reports a missing header itself
        var ihdr = png.AsSpan(16, 13);
        long width = BinaryPrimitives.ReadUInt32BigEndian(ihdr), height = BinaryPrimitives.ReadUInt32BigEndian(ihdr[4..]);
        int depth = ihdr[8], color = ihdr[9], interlace = ihdr[12];
        var channels = color switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        if (channels == 0 || depth is not (1 or 2 or 4 or 8 or 16))
            return null; // the decoder refuses these itself
        long Rows(long w, long h) => w <= 0 || h <= 0 ? 0 : h * (1 + (w * channels * depth + 7) / 8);
        long expected = 0;
        if (interlace == 0)
            expected = Rows(width, height);
        else
            foreach (var (x0, y0, dx, dy) in Adam7)
                expected += Rows((width - x0 + dx - 1) / dx, (height - y0 + dy - 1) / dy);
        long inflated = 0;
        try
        {
            using var zlib = new ZLibStream(new IdatStream(png), CompressionMode.Decompress);
            var scratch = new byte[1 << 16];
            int n;
            while (inflated < expected && (n = zlib.Read(scratch, 0, (int)Math.Min(scratch.Length, expected - inflated))) > 0)
            {
                inflated += n;
                cancel.ThrowIfCancellationRequested();
            }
        }
        catch (InvalidDataException)
        {
            return "corrupt PNG image data (the zlib stream is damaged)";
        }
        return inflated < expected
            ? $"corrupt PNG: its image data ends after {inflated:N0} of the {expected:N0} bytes its size needs"
            : null;
    }

    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    /// <summary>The data of a PNG's IDAT chunks, one after the other, as one read-only stream.</summary>
    private sealed class IdatStream(byte[] png) : Stream
    {
        private long _chunk = 8;
        private int _at, _end;

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (_at == _end)
            {
                if (!NextIdat()) return 0;
            }
            var n = Math.Min(count, _end - _at);
            Buffer.BlockCopy(png, _at, buffer, offset, n);
            _at += n;
            return n;
        }

        private bool NextIdat()
        {
            while (_chunk + 12 <= png.Length)
            {
                var length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan((int)_chunk));
                var type = png.AsSpan((int)_chunk + 4, 4);
                var data = _chunk + 8;
                _chunk = data + length + 4;
                if (_chunk > png.Length || type.SequenceEqual("IEND"u8))
                    return false;
                if (type.SequenceEqual("IDAT"u8))
                {
                    (_at, _end) = ((int)data, (int)(data + length));
                    return true;
                }
            }
            return false;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>
    /// Whether a JPEG's entropy-coded data is long enough for the number of 8x8 blocks its frame header declares.
    /// ImageSharp fills blocks it finds no data for with grey and reports nothing, so a header whose width was
    /// damaged (1200 read as 65535) decoded to a mostly grey picture that was classified with exit 0. Every block
    /// costs at least one bit of Huffman code per scan that carries its DC coefficient, and a sequential scan adds at
    /// least one more for its end-of-block: a lower bound no valid file is under. Returns null when plausible.
    /// </summary>
    internal static string? JpegDataProblem(ReadOnlySpan<byte> jpeg)
    {
        long blocks = 0, scanBytes = 0;
        var progressive = false;
        var pos = 2;
        while (pos + 4 <= jpeg.Length)
        {
            if (jpeg[pos] != 0xFF) { pos++; continue; }
            var marker = jpeg[pos + 1];
            if (marker is 0xFF) { pos++; continue; }
            if (marker is 0x00 or 0x01 or >= 0xD0 and <= 0xD7) { pos += 2; continue; }
            if (marker == 0xD9) break;
            var length = (jpeg[pos + 2] << 8) | jpeg[pos + 3];
            if (marker is 0xC0 or 0xC1 or 0xC2 && pos + 2 + length <= jpeg.Length && length >= 8)
            {
                progressive = marker == 0xC2;
                var sof = jpeg.Slice(pos + 4, length - 2);
                int height = (sof[1] << 8) | sof[2], width = (sof[3] << 8) | sof[4], count = sof[5];
                if (sof.Length < 6 + 3 * count || count == 0) return null;
                int hMax = 1, vMax = 1;
                for (var c = 0; c < count; c++)
                {
                    hMax = Math.Max(hMax, sof[7 + 3 * c] >> 4);
                    vMax = Math.Max(vMax, sof[7 + 3 * c] & 15);
                }
                for (var c = 0; c < count; c++)
                {
                    int h = Math.Max(1, sof[7 + 3 * c] >> 4), v = Math.Max(1, sof[7 + 3 * c] & 15);
                    long w = ((long)width * h + hMax - 1) / hMax, hh = ((long)height * v + vMax - 1) / vMax;
                    blocks += ((w + 7) / 8) * ((hh + 7) / 8);
                }
            }
            pos += 2 + length;
            if (marker == 0xDA)
            {
                var start = pos;
                while (pos + 1 < jpeg.Length && !(jpeg[pos] == 0xFF && jpeg[pos + 1] is not (0x00 or >= 0xD0 and <= 0xD7)))
                    pos++;
                scanBytes += pos - start;
            }
        }
        var minimumBits = blocks * (progressive ? 1 : 2);
        return blocks > 0 && scanBytes * 8 < minimumBits
            ? $"corrupt JPEG: {scanBytes:N0} bytes of image data cannot code the {blocks:N0} blocks its header's size needs (a damaged header?)"
            : null;
    }
}
