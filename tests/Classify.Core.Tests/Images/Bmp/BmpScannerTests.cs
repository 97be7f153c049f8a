using System.Buffers.Binary;
using Classify.Images.Bmp;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Images.Bmp;

public sealed class BmpScannerTests
{
    private static byte[] Encode(int width, int height)
    {
        using var image = new Image<Rgb24>(width, height);
        using var stream = new MemoryStream();
        image.Save(stream, new BmpEncoder { BitsPerPixel = BmpBitsPerPixel.Pixel24 });
        return stream.ToArray();
    }

    [Fact]
    public void A_whole_bmp_gives_its_size()
    {
        Assert.Equal(new BmpScan(false, 33, 17), BmpScanner.Scan(Encode(33, 17)));
    }

    [Fact]
    public void The_last_row_needs_no_padding()
    {
        var bmp = Encode(33, 17); // 99 bytes of pixels a row, padded to 100

        Assert.False(BmpScanner.Scan(bmp[..^1]).Truncated);
        Assert.True(BmpScanner.Scan(bmp[..^2]).Truncated);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(30)]
    [InlineData(100)]
    public void A_bmp_cut_before_its_last_row_is_truncated(int keep)
    {
        Assert.True(BmpScanner.Scan(Encode(33, 17)[..keep]).Truncated);
    }

    [Fact]
    public void A_top_down_bmp_gives_its_height_without_sign()
    {
        var bmp = Encode(33, 17);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(22), -17);

        Assert.Equal(new BmpScan(false, 33, 17), BmpScanner.Scan(bmp));
    }

    [Fact]
    public void A_core_header_gives_16_bit_sizes()
    {
        // BITMAPFILEHEADER, then BITMAPCOREHEADER (12 bytes: size, 16-bit width and height, planes, bits), then rows.
        var bmp = new byte[14 + 12 + 3 * 12]; // rows of 9 bytes padded to 12
        "BM"u8.CopyTo(bmp);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(2), bmp.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(10), 26);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(14), 12);
        BinaryPrimitives.WriteUInt16LittleEndian(bmp.AsSpan(18), 3);
        BinaryPrimitives.WriteUInt16LittleEndian(bmp.AsSpan(20), 3);
        BinaryPrimitives.WriteUInt16LittleEndian(bmp.AsSpan(22), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(bmp.AsSpan(24), 24);

        Assert.Equal(new BmpScan(false, 3, 3), BmpScanner.Scan(bmp));
        Assert.False(BmpScanner.Scan(bmp[..^3]).Truncated);
        Assert.True(BmpScanner.Scan(bmp[..^4]).Truncated);
    }

    [Fact]
    public void A_width_over_65535_is_read_whole()
    {
        var bmp = Encode(4, 4);
        BinaryPrimitives.WriteInt32LittleEndian(bmp.AsSpan(18), 70000);

        Assert.Equal(70000, BmpScanner.Scan(bmp).Width);
    }
}
