using Classify.Images.Gif;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Images.Gif;

public sealed class GifScannerTests
{
    /// <summary>A GIF written by hand: a 2-colour global table, one frame of <paramref name="width"/>x<paramref
    /// name="height"/> whose LZW data (minimum code size <paramref name="codeSize"/>) codes 4 pixels of colour 0:
    /// clear, 0, 0, 0, 0, end.</summary>
    private static byte[] Gif(int width, int height, byte codeSize = 2) =>
    [
        .. "GIF89a"u8, 2, 0, 2, 0, 0x80, 0, 0, // screen 2x2, global colour table of 2
        0, 0, 0, 255, 255, 255,
        0x21, 0xF9, 4, 0, 0, 0, 0, 0, // a graphic control extension
        0x2C, 0, 0, 0, 0, (byte)width, 0, (byte)height, 0, 0,
        codeSize, 3, 0x04, 0x00, 0x05, 0,
        0x3B,
    ];

    [Fact]
    public void A_whole_frame_is_neither_truncated_nor_a_problem()
    {
        Assert.Equal(new GifScan(false, null), GifScanner.Scan(Gif(2, 2)));
    }

    [Fact]
    public void An_encoded_gif_is_whole()
    {
        using var image = new Image<Rgb24>(33, 17, new Rgb24(10, 200, 30));
        using var stream = new MemoryStream();
        image.Save(stream, new GifEncoder());

        Assert.Equal(new GifScan(false, null), GifScanner.Scan(stream.ToArray()));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(22)]
    [InlineData(30)]
    [InlineData(37)]
    public void A_gif_cut_before_the_end_of_its_first_frame_is_truncated(int keep)
    {
        Assert.True(GifScanner.Scan(Gif(2, 2)[..keep]).Truncated);
    }

    [Fact]
    public void The_trailer_after_the_frame_is_not_needed()
    {
        Assert.False(GifScanner.Scan(Gif(2, 2)[..^1]).Truncated);
    }

    [Fact]
    public void Data_for_fewer_pixels_than_the_frame_has_is_a_problem()
    {
        Assert.Equal("corrupt GIF: its first frame's data ends after 4 of its 16 pixels", GifScanner.Scan(Gif(4, 4)).Problem);
    }

    [Fact]
    public void A_code_size_over_11_is_a_problem()
    {
        Assert.Equal("corrupt GIF: LZW code size 12", GifScanner.Scan(Gif(2, 2, codeSize: 12)).Problem);
    }

    [Fact]
    public void A_file_with_no_frame_is_left_to_the_decoder()
    {
        Assert.Equal(new GifScan(false, null), GifScanner.Scan([.. "GIF89a"u8, 2, 0, 2, 0, 0, 0, 0, 0x3B]));
    }
}
