using System.Buffers.Binary;
using Classify.Images.WebP;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Images.WebP;

public sealed class WebpScannerTests
{
    /// <summary>A lossless WebP of <paramref name="width"/>x<paramref name="height"/>: RIFF, WEBP, one VP8L chunk.</summary>
    private static byte[] Still(int width, int height)
    {
        using var image = new Image<Rgb24>(width, height, new Rgb24(200, 40, 90));
        using var stream = new MemoryStream();
        image.Save(stream, new WebpEncoder { FileFormat = WebpFileFormatType.Lossless });
        return stream.ToArray();
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        var chunk = new byte[8 + data.Length + (data.Length & 1)];
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(chunk, 0);
        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(4), data.Length);
        data.CopyTo(chunk, 8);
        return chunk;
    }

    private static byte[] Riff(params byte[][] chunks)
    {
        byte[] body = [.. "WEBP"u8, .. chunks.SelectMany(c => c)];
        return [.. "RIFF"u8, .. BitConverter.GetBytes(body.Length), .. body];
    }

    private static byte[] Vp8x(bool animated, int width, int height) =>
        Chunk("VP8X", [animated ? (byte)0x02 : (byte)0, 0, 0, 0, (byte)(width - 1), 0, 0, (byte)(height - 1), 0, 0]);

    /// <summary>An animation frame: its 16-byte header (offset, size, duration, flags), then the still's VP8L chunk.</summary>
    private static byte[] Frame(int width, int height) =>
        Chunk("ANMF", [0, 0, 0, 0, 0, 0, (byte)(width - 1), 0, 0, (byte)(height - 1), 0, 0, 100, 0, 0, 0, .. Still(width, height)[12..]]);

    [Fact]
    public void A_still_goes_to_the_decoder_as_it_is()
    {
        var webp = Still(9, 5);

        var scan = WebpScanner.Scan(webp);

        Assert.False(scan.Truncated);
        Assert.False(scan.Animated);
        Assert.Equal(1, scan.Orientation);
        Assert.Same(webp, scan.DecoderBytes(webp));
    }

    [Fact]
    public void A_webp_shorter_than_its_riff_size_is_truncated()
    {
        var webp = Still(9, 5);

        Assert.True(WebpScanner.Scan(webp[..^1]).Truncated);
        Assert.True(WebpScanner.Scan(webp[..11]).Truncated);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_orientation_comes_from_the_exif_chunk(bool jpegPrefix)
    {
        byte[] exif = [.. jpegPrefix ? "Exif\0\0"u8.ToArray() : [], .. ExifBlock.Orientation(6)];
        var webp = Riff(Vp8x(false, 9, 5), Still(9, 5)[12..], Chunk("EXIF", exif), Chunk("EXIF", ExifBlock.Orientation(3)));

        Assert.Equal(6, WebpScanner.Scan(webp).Orientation);
    }

    [Fact]
    public void An_animation_goes_to_the_decoder_as_its_first_frame()
    {
        var webp = Riff(Vp8x(true, 9, 5), Chunk("ANIM", new byte[6]), Frame(7, 4), Frame(9, 5), Chunk("EXIF", ExifBlock.Orientation(8)));

        var scan = WebpScanner.Scan(webp);
        var still = scan.DecoderBytes(webp);

        Assert.True(scan.Animated);
        Assert.Equal(8, scan.Orientation);
        Assert.NotNull(still);
        using var image = Image.Load<Rgb24>(still);
        Assert.Equal((7, 4), (image.Width, image.Height));
    }

    [Fact]
    public void An_animation_without_a_whole_frame_gives_the_decoder_nothing()
    {
        var webp = Riff(Vp8x(true, 9, 5), Chunk("ANIM", new byte[6]));

        Assert.Null(WebpScanner.Scan(webp).DecoderBytes(webp));
    }
}
