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
    private static byte[] PillowResize(byte[] rgb, int width, int height, int toWidth, int toHeight, int left, int top, int cropWidth, int cropHeight)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("in.rgb"), rgb);
        var script = "import sys; from PIL import Image; " +
                     $"im = Image.frombytes('RGB', ({width}, {height}), open(sys.argv[1], 'rb').read()); " +
                     $"im = im.resize(({toWidth}, {toHeight}), Image.BILINEAR).crop(({left}, {top}, {left + cropWidth}, {top + cropHeight})); " +
                     "open(sys.argv[2], 'wb').write(im.tobytes())";
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
}
