using System.Buffers.Binary;
using Classify.Images.Png;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Images.Png;

public sealed class PngScannerTests
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10];

    private static byte[] Chunk(string type, byte[] data)
    {
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        var crc = 0xFFFFFFFFu;
        foreach (var b in typed)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        typed.CopyTo(chunk, 4);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), ~crc);
        return chunk;
    }

    /// <summary>A small PNG's chunks (from <see cref="TestPng"/>) with <paramref name="before"/> inserted after IHDR and
    /// <paramref name="after"/> after the first IDAT.</summary>
    private static byte[] With(byte[][] before, byte[][] after)
    {
        var png = TestPng.ZeroRows(5, 3);
        var idat = 8 + 25; // after the signature and IHDR
        var idatLength = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat));
        var afterIdat = idat + 12 + idatLength;
        return [.. png[..idat], .. before.SelectMany(c => c), .. png[idat..afterIdat], .. after.SelectMany(c => c), .. png[afterIdat..]];
    }

    private static string[] Types(byte[] png, PngScan scan) =>
        [.. scan.PixelChunks.Select(c => System.Text.Encoding.ASCII.GetString(png, c.Start + 4, 4))];

    [Fact]
    public void A_png_of_pixel_chunks_only_goes_to_the_decoder_as_it_is()
    {
        var png = TestPng.ZeroRows(5, 3);

        var scan = PngScanner.Scan(png);

        Assert.True(scan.ReachedEnd);
        Assert.False(scan.Dropped);
        Assert.Equal(["IHDR", "IDAT", "IEND"], Types(png, scan));
        Assert.Same(png, scan.DecoderBytes(png));
        Assert.Equal(ExifBlock.Upright, scan.Orientation);
    }

    [Fact]
    public void Metadata_chunks_are_dropped_and_the_orientation_kept()
    {
        var png = With([Chunk("tEXt", [.. "Comment\0hello"u8]), Chunk("eXIf", ExifBlock.Orientation(6))], [Chunk("zTXt", new byte[40])]);

        var scan = PngScanner.Scan(png);
        var decoded = scan.DecoderBytes(png);

        Assert.True(scan.ReachedEnd);
        Assert.True(scan.Dropped);
        Assert.Equal(6, scan.Orientation);
        Assert.Equal(png.Length - (12 + 13) - (12 + 28) - (12 + 40), decoded.Length);
        var again = PngScanner.Scan(decoded);
        Assert.Equal(["IHDR", "IDAT", "IEND"], Types(decoded, again));
        Assert.False(again.Dropped);
        using var image = Image.Load<Rgb24>(decoded);
        Assert.Equal((5, 3), (image.Width, image.Height));
    }

    [Fact]
    public void An_exif_chunk_after_the_image_data_is_not_read()
    {
        var png = With([], [Chunk("eXIf", ExifBlock.Orientation(3))]);

        Assert.Equal(ExifBlock.Upright, PngScanner.Scan(png).Orientation);
    }

    [Fact]
    public void The_first_exif_chunk_gives_the_orientation()
    {
        var png = With([Chunk("eXIf", ExifBlock.Orientation(8)), Chunk("eXIf", ExifBlock.Orientation(3))], []);

        Assert.Equal(8, PngScanner.Scan(png).Orientation);
    }

    [Fact]
    public void A_png_cut_inside_a_chunk_does_not_reach_its_end()
    {
        var png = File.ReadAllBytes(TestData.Chelsea);

        Assert.True(PngScanner.Scan(png).ReachedEnd);
        Assert.False(PngScanner.Scan(png[..(png.Length - 1)]).ReachedEnd);
        Assert.False(PngScanner.Scan(png[..(png.Length / 2)]).ReachedEnd);
    }

    [Fact]
    public void Data_after_the_end_chunk_is_not_read()
    {
        byte[] png = [.. TestPng.ZeroRows(5, 3), .. Chunk("tEXt", [1, 2, 3])];

        var scan = PngScanner.Scan(png);

        Assert.True(scan.ReachedEnd);
        Assert.False(scan.Dropped);
    }
}
