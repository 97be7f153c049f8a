using System.Diagnostics;
using System.Runtime.InteropServices;
using Classify.Images;
using Classify.Models;
using Classify.Preprocessing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Classify.Tests.Preprocessing;

/// <summary>The resize is Pillow's, byte for byte: the test photos (and stretched and shrunk copies of them) are
/// resized by classify and by python3-pil (what torchvision's Resize runs on a PIL image) from the same pixels.</summary>
public sealed class BilinearResamplerTests
{
    /// <summary>Pillow's resize (then crop, as torchvision's Resize + CenterCrop) of raw RGB pixels.</summary>
    private static byte[] PillowResize(byte[] rgb, int width, int height, int toWidth, int toHeight, int left, int top, int cropWidth, int cropHeight) =>
        Pillow(rgb, width, height, $"im = im.resize(({toWidth}, {toHeight}), Image.BILINEAR).crop(({left}, {top}, {left + cropWidth}, {top + cropHeight}))");

    /// <summary>Pillow's crop then resize (the central crop's order) of raw RGB pixels.</summary>
    private static byte[] PillowCropResize(byte[] rgb, int width, int height, int left, int top, int cropWidth, int cropHeight, int toWidth, int toHeight) =>
        Pillow(rgb, width, height, $"im = im.crop(({left}, {top}, {left + cropWidth}, {top + cropHeight})).resize(({toWidth}, {toHeight}), Image.BILINEAR)");

    private static byte[] Pillow(byte[] rgb, int width, int height, string transform)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("in.rgb"), rgb);
        var script = "import sys; from PIL import Image; " +
                     $"im = Image.frombytes('RGB', ({width}, {height}), open(sys.argv[1], 'rb').read()); " +
                     transform + "; open(sys.argv[2], 'wb').write(im.tobytes())";
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true };
        foreach (var a in new[] { "-c", script, dir.File("in.rgb"), dir.File("out.rgb") })
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"python3-pil failed (scripts/test.sh installs python3-pil): {err}");
        return File.ReadAllBytes(dir.File("out.rgb"));
    }

    private static byte[] Pixels(Image<Rgb24> image)
    {
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(MemoryMarshal.Cast<byte, Rgb24>(bytes.AsSpan()));
        return bytes;
    }

    private static Image<Rgb24> Photo(string name, int? width = null, int? height = null)
    {
        var image = new ImageLoader().Load(Path.Combine(TestData.Images, name));
        if (width is { } w && height is { } h)
            image.Mutate(x => x.Resize(w, h, KnownResamplers.NearestNeighbor)); // a picture of another size, not a resize under test
        return image;
    }

    private static InputSpec Spec(int width, int height, ResizeSpec resize) => new()
    {
        Name = "x", Width = width, Height = height, Resize = resize,
    };

    [Theory]
    [InlineData("chelsea.png", null, null, 224, 224)]   // 451x300, shrunk in both directions
    [InlineData("astronaut.png", null, null, 224, 224)] // 512x512
    [InlineData("coffee.png", null, null, 299, 299)]    // 600x400: shrunk across, less so down
    [InlineData("chelsea.png", 61, 37, 224, 224)]       // enlarged
    [InlineData("chelsea.png", 300, 90, 224, 224)]      // enlarged down, shrunk across
    [InlineData("rocket.jpg", null, null, 7, 13)]       // a tiny odd size, heavy antialiasing
    [InlineData("coffee.png", 224, 224, 224, 224)]      // already the size: unchanged
    public void Stretch_gives_pillows_bytes(string name, int? width, int? height, int toWidth, int toHeight)
    {
        using var image = Photo(name, width, height);
        var spec = Spec(toWidth, toHeight, new ResizeSpec());
        var ours = new byte[toWidth * toHeight * 3];

        new Preprocessor(spec).Resize(image, ours);

        var pillow = PillowResize(Pixels(image), image.Width, image.Height, toWidth, toHeight, 0, 0, toWidth, toHeight);
        Assert.Equal(pillow.Length, ours.Length);
        var differing = ours.Where((b, i) => b != pillow[i]).Count();
        Assert.True(differing == 0, $"{name}: {differing} of {ours.Length} bytes differ from Pillow's");
    }

    [Theory]
    [InlineData("chelsea.png", null, null)]
    [InlineData("rocket.jpg", null, null)]
    [InlineData("astronaut.png", 300, 700)]  // a portrait: the crop cuts rows
    [InlineData("coffee.png", 230, 240)]     // enlarged to 256 first
    public void Center_crop_gives_pillows_resize_then_crop(string name, int? width, int? height)
    {
        using var image = Photo(name, width, height);
        var spec = Spec(224, 224, new ResizeSpec { Mode = Classify.Models.ResizeMode.CenterCrop, ShorterSide = 256 });
        var ours = new byte[224 * 224 * 3];

        new Preprocessor(spec).Resize(image, ours);

        var (w, h, left, top) = Preprocessor.CenterCropGeometry(image.Width, image.Height, 256, 224, 224);
        var pillow = PillowResize(Pixels(image), image.Width, image.Height, w, h, left, top, 224, 224);
        var differing = ours.Where((b, i) => b != pillow[i]).Count();
        Assert.True(differing == 0, $"{name}: {differing} of {ours.Length} bytes differ from Pillow's");
    }

    [Theory]
    [InlineData("chelsea.png", null, null, 0.875, 224, 224)]   // 451x300: a 395x264 window at (28, 18), shrunk
    [InlineData("rocket.jpg", null, null, 0.875, 224, 224)]
    [InlineData("chelsea.png", 333, 257, 0.875, 224, 224)]     // odd sides: odd margins (20, 16), odd window 293x225
    [InlineData("astronaut.png", 301, 703, 0.875, 224, 224)]   // a portrait: enlarged across, shrunk down
    [InlineData("coffee.png", 97, 61, 0.875, 224, 224)]        // a small picture: the window is enlarged
    [InlineData("coffee.png", 1001, 23, 0.5, 299, 299)]        // extreme shape, another fraction and model size
    [InlineData("chelsea.png", 451, 300, 1.0, 7, 13)]          // fraction 1: the whole image, a tiny odd size
    public void Central_crop_gives_pillows_crop_then_resize(string name, int? width, int? height, double fraction, int toWidth, int toHeight)
    {
        using var image = Photo(name, width, height);
        var spec = Spec(toWidth, toHeight, new ResizeSpec { Mode = Classify.Models.ResizeMode.CentralCrop, Fraction = fraction });
        var ours = new byte[toWidth * toHeight * 3];

        new Preprocessor(spec).Resize(image, ours);

        var (left, cropWidth) = Preprocessor.CentralCrop(image.Width, fraction);
        var (top, cropHeight) = Preprocessor.CentralCrop(image.Height, fraction);
        var pillow = PillowCropResize(Pixels(image), image.Width, image.Height, left, top, cropWidth, cropHeight, toWidth, toHeight);
        var differing = ours.Where((b, i) => b != pillow[i]).Count();
        Assert.True(differing == 0, $"{name}: {differing} of {ours.Length} bytes differ from Pillow's");
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(0, 1)]
    public void Central_crop_comparison_sees_a_window_one_pixel_off(int dx, int dy)
    {
        // The test above would pass for a resampler that ignored the window's offset only if the bytes could not tell;
        // they can: the same window moved by one pixel gives other bytes.
        using var image = Photo("chelsea.png", 333, 257);
        var spec = Spec(224, 224, new ResizeSpec { Mode = Classify.Models.ResizeMode.CentralCrop, Fraction = 0.875 });
        var ours = new byte[224 * 224 * 3];
        new Preprocessor(spec).Resize(image, ours);

        var (left, cropWidth) = Preprocessor.CentralCrop(image.Width, 0.875);
        var (top, cropHeight) = Preprocessor.CentralCrop(image.Height, 0.875);
        var moved = PillowCropResize(Pixels(image), image.Width, image.Height, left + dx, top + dy, cropWidth, cropHeight, 224, 224);
        var differing = ours.Where((b, i) => b != moved[i]).Count();
        Assert.True(differing > ours.Length / 10, $"only {differing} of {ours.Length} bytes differ from the window moved by ({dx}, {dy})");
    }
}
