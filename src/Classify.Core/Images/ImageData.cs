using System.Buffers.Binary;
using System.IO.Compression;

namespace Classify.Images;

/// <summary>Checks that an image's compressed data can fill the size its header declares, where the decoder would
/// fill the rest with zeros or grey without a word.</summary>
internal static class ImageData
{
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
    private sealed class IdatStream : Stream
    {
        private readonly byte[] _png;
        private readonly Queue<PngChunk> _idats = new();
        private int _at, _end;

        public IdatStream(byte[] png)
        {
            _png = png;
            foreach (var chunk in new PngChunks(png))
                if (chunk.Is(png, "IDAT"u8))
                    _idats.Enqueue(chunk);
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (_at == _end)
            {
                if (!_idats.TryDequeue(out var next)) return 0;
                (_at, _end) = (next.Start + 8, next.Start + 8 + next.Length);
            }
            var n = Math.Min(count, _end - _at);
            Buffer.BlockCopy(_png, _at, buffer, offset, n);
            _at += n;
            return n;
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
    /// What classify needs to know of a JPEG before decoding it: its scan count, whether it is arithmetic-coded, and
    /// whether its entropy-coded data is long enough for the number of 8x8 blocks its frame header declares.
    /// ImageSharp fills blocks it finds no data for with grey and reports nothing, so a header whose width was
    /// damaged (1200 read as 65535) decoded to a mostly grey picture that was classified with exit 0. Every block
    /// costs at least one bit of Huffman code per scan that carries its DC coefficient, and a sequential scan adds at
    /// least one more for its end-of-block: a lower bound no valid file is under.
    /// </summary>
    internal static JpegFacts Jpeg(ReadOnlySpan<byte> jpeg)
    {
        long blocks = 0, scanBytes = 0;
        int scans = 0;
        bool progressive = false, arithmetic = false;
        foreach (var segment in new JpegSegments(jpeg))
        {
            scanBytes += segment.ScanBytes;
            if (segment.Marker == 0xDA) scans++;
            // SOF9-SOF15 but DHT's neighbours: arithmetic coding (SOF9, 10, 11, 13, 14, 15).
            if (segment.Marker is 0xC9 or 0xCA or 0xCB or 0xCD or 0xCE or 0xCF) arithmetic = true;
            if (segment.Marker is not (0xC0 or 0xC1 or 0xC2) || segment.PayloadLength < 6)
                continue;
            progressive = segment.Marker == 0xC2;
            var sof = segment.Payload(jpeg);
            int height = (sof[1] << 8) | sof[2], width = (sof[3] << 8) | sof[4], count = sof[5];
            if (sof.Length < 6 + 3 * count || count == 0) continue;
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
        var minimumBits = blocks * (progressive ? 1 : 2);
        var problem = blocks > 0 && scanBytes * 8 < minimumBits
            ? $"corrupt JPEG: {scanBytes:N0} bytes of image data cannot code the {blocks:N0} blocks its header's size needs (a damaged header?)"
            : null;
        return new JpegFacts(scans, arithmetic, problem);
    }

    /// <summary>A BMP's width and height from its info header (BITMAPCOREHEADER's 16-bit fields or the 32-bit ones of
    /// every later header), or null when the file is too short to hold them.</summary>
    internal static (int Width, int Height)? BmpSize(ReadOnlySpan<byte> bmp)
    {
        if (bmp.Length < 26)
            return null;
        var headerSize = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bmp[14..]);
        if (headerSize == 12)
            return (System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bmp[18..]), System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(bmp[20..]));
        return (System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bmp[18..]), System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bmp[22..]));
    }

    /// <summary>
    /// Whether the LZW data of a GIF's first frame (the one classified) codes all of its pixels. ImageSharp stops at
    /// the end of a short or broken LZW stream and leaves the rest of the frame background-coloured, without a word.
    /// The codes are followed for their lengths only (no pixels are made), to the end of the data at most.
    /// </summary>
    internal static string? GifDataProblem(ReadOnlySpan<byte> gif)
    {
        var frame = ImageStructure.GifFirstFrame(gif);
        if (frame < 0 || frame + 11 > gif.Length)
            return null; // no frame, or cut off: the structure check has said so
        long width = gif[frame + 5] | gif[frame + 6] << 8, height = gif[frame + 7] | gif[frame + 8] << 8;
        var data = frame + 10 + ImageStructure.GifColorTableSize(gif[frame + 9]);
        if (data >= gif.Length)
            return null;
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

/// <param name="Problem">Why the file is corrupt, or null when its data length is plausible.</param>
internal readonly record struct JpegFacts(int Scans, bool Arithmetic, string? Problem);
