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
}

/// <param name="Problem">Why the file is corrupt, or null when its data length is plausible.</param>
internal readonly record struct JpegFacts(int Scans, bool Arithmetic, string? Problem);
