using Classify.Images.Jpeg;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Images.Jpeg;

public sealed class JpegScannerTests
{
    private static byte[] Encode(ushort? orientation = null)
    {
        using var image = new Image<Rgb24>(40, 24, new Rgb24(90, 120, 30));
        if (orientation is { } o)
        {
            image.Metadata.ExifProfile = new ExifProfile();
            image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, o);
        }
        using var stream = new MemoryStream();
        image.Save(stream, new JpegEncoder());
        return stream.ToArray();
    }

    [Fact]
    public void A_whole_photo_reaches_its_end_with_nothing_wrong()
    {
        var scan = JpegScanner.Scan(File.ReadAllBytes(TestData.Rocket));

        Assert.True(scan.ReachedEnd);
        Assert.Equal(ExifBlock.Upright, scan.Orientation);
        Assert.True(scan.Scans >= 1);
        Assert.False(scan.Arithmetic);
        Assert.Null(scan.Problem);
    }

    [Fact]
    public void Half_a_photo_does_not_reach_its_end()
    {
        var bytes = File.ReadAllBytes(TestData.Rocket);

        Assert.False(JpegScanner.Scan(bytes[..(bytes.Length / 2)]).ReachedEnd);
    }

    [Fact]
    public void Data_after_the_end_marker_is_not_read()
    {
        byte[] bytes = [.. File.ReadAllBytes(TestData.Rocket), 0xFF, 0xD8, 0xFF, 0xE1, 0xFF];

        Assert.True(JpegScanner.Scan(bytes).ReachedEnd);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(8)]
    public void The_orientation_comes_from_the_exif_segment(int orientation)
    {
        Assert.Equal(orientation, JpegScanner.Scan(Encode((ushort)orientation)).Orientation);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(8)]
    public void The_orientation_of_each_test_photo_is_read(int tag)
    {
        var scan = JpegScanner.Scan(File.ReadAllBytes(Path.Combine(TestData.Images, "exif-orientation", $"Landscape_{tag}.jpg")));

        Assert.Equal(tag == 0 ? ExifBlock.Upright : tag, scan.Orientation); // 0 is no orientation: upright
        Assert.True(scan.ReachedEnd);
    }

    [Fact]
    public void A_header_that_claims_more_blocks_than_the_data_can_code_is_a_problem()
    {
        var bytes = Encode();
        var sof = bytes.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        bytes[sof + 7] = 0xFF; // width 65535
        bytes[sof + 8] = 0xFF;

        var scan = JpegScanner.Scan(bytes);

        Assert.True(scan.ReachedEnd);
        Assert.Contains("blocks its header's size needs (a damaged header?)", scan.Problem);
    }
}
