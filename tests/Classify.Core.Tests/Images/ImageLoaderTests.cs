using System.Buffers.Binary;
using Classify.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Images;

public sealed class ImageLoaderTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ImageLoader _loader = new();

    public void Dispose() => _dir.Dispose();

    private ClassifyException LoadFails(string path, ImageLoader? loader = null) =>
        Assert.Throws<ClassifyException>(() => (loader ?? _loader).Load(path).Dispose());

    private string Half(string photo)
    {
        var bytes = File.ReadAllBytes(photo);
        var path = _dir.File("half-" + Path.GetFileName(photo));
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        return path;
    }

    private string Save<TPixel>(Image<TPixel> image, string name, IImageEncoder encoder) where TPixel : unmanaged, IPixel<TPixel>
    {
        var path = _dir.File(name);
        image.Save(path, encoder);
        return path;
    }

    // A gradient, so lossy encoders and palette quantisers have something to keep.
    private static Image<Rgba32> Gradient(int width, int height, byte alpha = 255)
    {
        var image = new Image<Rgba32>(width, height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                image[x, y] = new Rgba32((byte)(x * 255 / width), (byte)(y * 255 / height), 128, alpha);
        return image;
    }

    [Fact]
    public void Missing_file_is_ImageNotFound()
    {
        var e = LoadFails(_dir.File("nope.png"));
        Assert.Equal(ExitCode.ImageNotFound, e.ExitCode);
        Assert.Equal(_dir.File("nope.png"), e.File);
    }

    [Fact]
    public void Directory_given_as_a_file_is_ImageNotFound()
    {
        var e = LoadFails(_dir.Path);
        Assert.Equal(ExitCode.ImageNotFound, e.ExitCode);
        Assert.Contains("directory", e.Message);
    }

    [Fact]
    public void Text_file_is_ImageUnsupported()
    {
        var path = _dir.File("notes.png");
        File.WriteAllText(path, "this is not a picture\n");

        var e = LoadFails(path);

        Assert.Equal(ExitCode.ImageUnsupported, e.ExitCode);
        Assert.Contains(ImageLoader.SupportedFormats, e.Message);
    }

    [Theory]
    [InlineData("rocket.jpg", 2, "JPEG")]
    [InlineData("rocket.jpg", 8, "JPEG")]
    [InlineData("chelsea.png", 6, "PNG")]
    [InlineData("chelsea.png", 4, "PNG")]
    public void A_file_cut_inside_its_header_is_a_truncated_image(string photo, int keep, string format)
    {
        var path = _dir.File("cut-" + photo);
        File.WriteAllBytes(path, File.ReadAllBytes(Path.Combine(TestData.Images, photo))[..keep]);

        var e = LoadFails(path);

        Assert.Equal(ExitCode.ImageCorrupt, e.ExitCode);
        Assert.Equal($"truncated {format} file: its {keep} bytes end inside the header", e.Message);
    }

    [Fact]
    public void A_file_over_2_GiB_is_too_large_even_when_the_limit_allows_it()
    {
        var path = _dir.File("huge.jpg");
        using (var f = File.Create(path))
            f.SetLength(3L << 30); // sparse: no disk used

        var e = LoadFails(path, new ImageLoader(new ImageLoaderOptions { MaxFileBytes = 4L << 30 }));

        Assert.Equal(ExitCode.ImageTooLarge, e.ExitCode);
        Assert.Equal("file is 3072 MiB, over the 2048 MiB that one image file can be read into", e.Message);
    }

    [Fact]
    public void Empty_file_is_ImageUnsupported()
    {
        var path = _dir.File("empty.jpg");
        File.WriteAllBytes(path, []);

        Assert.Equal(ExitCode.ImageUnsupported, LoadFails(path).ExitCode);
    }

    [Fact]
    public void Truncated_png_is_ImageCorrupt_from_the_end_marker_check()
    {
        var e = LoadFails(Half(TestData.Chelsea));

        Assert.Equal(ExitCode.ImageCorrupt, e.ExitCode);
        Assert.Contains("truncated PNG", e.Message);
    }

    [Fact]
    public void Truncated_jpeg_is_ImageCorrupt_from_the_end_marker_check()
    {
        var e = LoadFails(Half(TestData.Rocket));

        Assert.Equal(ExitCode.ImageCorrupt, e.ExitCode);
        Assert.Contains("truncated JPEG", e.Message);
    }

    [Theory]
    [InlineData("cut.gif")]
    [InlineData("cut.bmp")]
    [InlineData("cut.webp")]
    [InlineData("cut.png")]
    [InlineData("cut.jpg")]
    public void Half_of_an_encoded_image_is_ImageCorrupt(string name)
    {
        IImageEncoder encoder = Path.GetExtension(name) switch
        {
            ".gif" => new GifEncoder(),
            ".bmp" => new BmpEncoder(),
            ".webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossy },
            ".png" => new PngEncoder(),
            _ => new JpegEncoder(),
        };
        using var source = Image.Load<Rgb24>(TestData.Coffee);
        var path = Save(source, name, encoder);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        Assert.Equal(ExitCode.ImageCorrupt, LoadFails(path).ExitCode);
    }

    [Theory]
    [InlineData("chelsea.png")]
    [InlineData("rocket.jpg")]
    public void Header_fragment_of_a_photo_is_ImageCorrupt(string photo)
    {
        var path = _dir.File("fragment-" + photo);
        File.WriteAllBytes(path, File.ReadAllBytes(Path.Combine(TestData.Images, photo))[..30]);

        Assert.Equal(ExitCode.ImageCorrupt, LoadFails(path).ExitCode);
    }

    [Fact]
    public void Half_a_png_decodes_silently_without_the_check()
    {
        // Why the loader checks end markers at all: ImageSharp fills the missing rows and reports nothing.
        using var image = Image.Load<Rgb24>(File.ReadAllBytes(Half(TestData.Chelsea)));
        Assert.True(image.Width > 0);
    }

    [Theory]
    [InlineData("chelsea.png", 451, 300)]
    [InlineData("coffee.png", 600, 400)]
    [InlineData("astronaut.png", 512, 512)]
    [InlineData("rocket.jpg", 640, 427)]
    public void Complete_photos_load_at_their_size(string name, int width, int height)
    {
        using var image = _loader.Load(Path.Combine(TestData.Images, name));
        Assert.Equal((width, height), (image.Width, image.Height));
    }

    [Fact]
    public void Jpeg_with_data_after_its_end_marker_loads()
    {
        // Motion photos (Pixel, Samsung) append a video after the JPEG's EOI; the photo itself is complete.
        var path = _dir.File("motion.jpg");
        File.WriteAllBytes(path, [.. File.ReadAllBytes(TestData.Rocket), .. Enumerable.Range(0, 64 << 10).Select(i => (byte)(i * 7))]);

        using var image = _loader.Load(path);

        Assert.Equal((640, 427), (image.Width, image.Height));
    }

    [Fact]
    public void Png_with_data_after_its_end_chunk_loads()
    {
        var path = _dir.File("trailer.png");
        File.WriteAllBytes(path, [.. File.ReadAllBytes(TestData.Chelsea), .. new byte[64 << 10]]);

        using var image = _loader.Load(path);

        Assert.Equal((451, 300), (image.Width, image.Height));
    }

    [Fact]
    public void Tiff_is_ImageUnsupported()
    {
        using var source = Gradient(8, 8);
        var path = Save(source, "scan.tiff", new TiffEncoder());

        var e = LoadFails(path);

        Assert.Equal(ExitCode.ImageUnsupported, e.ExitCode);
    }

    [Fact]
    public void Image_over_the_pixel_limit_is_ImageTooLarge()
    {
        var e = LoadFails(TestData.Chelsea, new ImageLoader(new ImageLoaderOptions { MaxPixels = 451 * 300 - 1 }));

        Assert.Equal(ExitCode.ImageTooLarge, e.ExitCode);
        Assert.Contains("451x300", e.Message);
    }

    [Fact]
    public void Png_header_claiming_huge_dimensions_is_refused_before_decoding()
    {
        // 100000 x 100000 RGB would need 30 GB; the file holds only the header, so decoding it would fail
        // differently (or allocate): ImageTooLarge proves Identify's check came first.
        var path = _dir.File("bomb.png");
        File.WriteAllBytes(path, PngHeaderOnly(100_000, 100_000));

        var e = LoadFails(path);

        Assert.Equal(ExitCode.ImageTooLarge, e.ExitCode);
        Assert.Contains("100000x100000", e.Message);
    }

    private static byte[] PngHeaderOnly(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type RGB
        return [.. new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, .. Chunk("IHDR", ihdr), .. Chunk("IEND", [])];
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(chunk, 4);
        data.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return chunk;
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    [Fact]
    public void Exif_orientation_6_turns_the_image_upright()
    {
        using var source = Gradient(40, 20);
        source.Metadata.ExifProfile = new ExifProfile();
        source.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        var path = Save(source, "rotated.jpg", new JpegEncoder());

        using var image = _loader.Load(path);

        Assert.Equal((20, 40), (image.Width, image.Height));
    }

    [Fact]
    public void Grayscale_png_loads_as_equal_rgb_channels()
    {
        using var source = new Image<L8>(6, 4, new L8(77));
        var path = Save(source, "gray.png", new PngEncoder { ColorType = PngColorType.Grayscale });

        using var image = _loader.Load(path);

        Assert.Equal((6, 4), (image.Width, image.Height));
        Assert.Equal(new Rgb24(77, 77, 77), image[3, 2]);
    }

    [Fact]
    public void Rgba_png_with_alpha_loads_as_rgb()
    {
        using var source = Gradient(10, 6, alpha: 100);
        var path = Save(source, "alpha.png", new PngEncoder { ColorType = PngColorType.RgbWithAlpha });

        using var image = _loader.Load(path);

        Assert.Equal((10, 6), (image.Width, image.Height));
        Assert.Equal(source[5, 3].R, image[5, 3].R);
    }

    [Theory]
    [InlineData("palette.png")]
    [InlineData("anim.gif")]
    [InlineData("bitmap.bmp")]
    [InlineData("lossy.webp")]
    [InlineData("lossless.webp")]
    [InlineData("photo.jpg")]
    public void Every_supported_format_loads_as_rgb_of_its_size(string name)
    {
        IImageEncoder encoder = name switch
        {
            "palette.png" => new PngEncoder { ColorType = PngColorType.Palette },
            "anim.gif" => new GifEncoder(),
            "bitmap.bmp" => new BmpEncoder(),
            "lossy.webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossy },
            "lossless.webp" => new WebpEncoder { FileFormat = WebpFileFormatType.Lossless },
            _ => new JpegEncoder(),
        };
        using var source = Gradient(33, 17);
        var path = Save(source, name, encoder);

        using var image = _loader.Load(path);

        Assert.Equal((33, 17), (image.Width, image.Height));
    }
}
