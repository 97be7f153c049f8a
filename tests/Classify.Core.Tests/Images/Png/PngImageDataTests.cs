using System.Buffers.Binary;
using Classify.Images.Png;

namespace Classify.Tests.Images.Png;

public sealed class PngImageDataTests
{
    /// <summary>A PNG of 5x<paramref name="height"/> zero rows whose header claims <paramref name="claimed"/> rows, its
    /// image data split into two IDAT chunks with a text chunk before, between and after them.</summary>
    private static byte[] SplitPng(int height, int claimed)
    {
        var png = TestPng.ZeroRows(5, height);
        var idatLength = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(33));
        var data = png.AsSpan(33 + 8, idatLength).ToArray();
        var half = data.Length / 2;
        var ihdr = png[8..33];
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(12), claimed); // the CRC is not checked here
        return [.. png[..8], .. ihdr, .. Text(), .. Chunk("IDAT", data[..half]), .. Text(), .. Chunk("IDAT", data[half..]),
            .. Text(), .. png[(33 + 12 + idatLength)..]];
    }

    private static byte[] Text() => Chunk("tEXt", [.. "Comment\0a few words"u8]);

    private static byte[] Chunk(string type, byte[] data) =>
        [.. BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(data.Length)), .. System.Text.Encoding.ASCII.GetBytes(type), .. data, 0, 0, 0, 0];

    private static string? Problem(byte[] png)
    {
        var scan = PngScanner.Scan(png);
        Assert.True(scan.ReachedEnd);
        Assert.True(scan.Dropped);
        return PngImageData.Problem(scan.DecoderBytes(png), scan, CancellationToken.None);
    }

    [Fact]
    public void Image_data_split_around_dropped_chunks_is_read_whole()
    {
        Assert.Null(Problem(SplitPng(4, 4)));
    }

    [Fact]
    public void Image_data_shorter_than_the_header_needs_is_a_problem()
    {
        // 5 RGB pixels a row: 1 filter byte and 15 bytes.
        Assert.Equal("corrupt PNG: its image data ends after 64 of the 128 bytes its size needs", Problem(SplitPng(4, 8)));
    }

    [Fact]
    public void A_damaged_zlib_stream_is_a_problem()
    {
        var png = SplitPng(4, 4);
        png[8 + 25 + 31 + 8] ^= 0xFF; // the zlib header, first byte of the first IDAT's data

        Assert.Equal("corrupt PNG image data (the zlib stream is damaged)", Problem(png));
    }
}
