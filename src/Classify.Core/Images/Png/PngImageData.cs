using System.Buffers.Binary;
using System.IO.Compression;

namespace Classify.Images.Png;

/// <summary>Checks that a PNG's compressed data can fill the size its header declares, where ImageSharp would fill the
/// rest with zeros without a word (libspng reports it itself, as it decodes).</summary>
internal static class PngImageData
{
    /// <summary>
    /// Whether the compressed image data of the PNG the decoder gets (<paramref name="png"/>, from
    /// <see cref="PngScan.DecoderBytes"/>) inflates to as many bytes as its header's size needs. ImageSharp, like
    /// libpng's callers that ignore its warning, fills rows missing from a short zlib stream with zeros and reports
    /// nothing. The data is inflated once into a small scratch buffer and never past the size the header gives, so a
    /// decompression bomb costs no more here than in the decoder. Returns null when complete, else the problem.
    /// </summary>
    internal static string? Problem(byte[] png, PngScan scan, CancellationToken cancel)
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
            using var zlib = new ZLibStream(new IdatStream(png, scan.PixelChunks), CompressionMode.Decompress);
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

    /// <summary>The data of the IDAT chunks of the PNG the decoder gets, one after the other, as one read-only stream.
    /// Its chunks are the scan's pixel chunks, one after the other from the signature on, whether or not others were
    /// dropped: no second walk is needed to find them.</summary>
    private sealed class IdatStream(byte[] png, List<PngChunk> chunks) : Stream
    {
        private int _next, _chunkStart = 8, _at, _end;

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
            while (_next < chunks.Count)
            {
                var chunk = chunks[_next++];
                var start = _chunkStart;
                _chunkStart += chunk.End - chunk.Start;
                if (PngScanner.IsIdat(png, chunk with { Start = start }))
                {
                    (_at, _end) = (start + 8, start + 8 + chunk.Length);
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
}
