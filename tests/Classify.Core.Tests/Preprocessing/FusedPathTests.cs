using System.Runtime.InteropServices;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using ResizeMode = Classify.Models.ResizeMode;

namespace Classify.Tests.Preprocessing;

/// <summary>Issue 30: the fused resize + normalisation + layout (<see cref="Preprocessor.Fill"/>, each resized row
/// laid out as it is made) writes the same bits as the plain scalar arithmetic of <see cref="ScalarPreprocessor"/>
/// (resize the whole window, store it, lay it out value by value), for every bundled model's input (and the packed
/// pixels a device-preprocessing backend takes), every resize policy, on the real test photos, the EXIF-oriented
/// JPEGs and odd sizes (one pixel wide or high, enlarged, tiny).</summary>
public sealed class FusedPathTests
{
    public static TheoryData<string> Inputs()
    {
        var data = new TheoryData<string>();
        foreach (var model in Directory.EnumerateDirectories(TestData.Models).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(model, ModelManifest.FileName)))
            {
                data.Add(Path.GetFileName(model));
                data.Add(Path.GetFileName(model) + "/pixels");
            }
        // The policies and layouts no bundled model has: torchvision's resize + center crop, NHWC float, a width
        // that is no multiple of the 16-pixel blocks (every row ends with scalar pixels), a 1-pixel-wide input.
        foreach (var extra in new[] { "center-crop", "nhwc-299", "odd-1x37" })
            data.Add(extra);
        return data;
    }

    private static InputSpec Spec(string name) => name switch
    {
        "center-crop" => new InputSpec
        {
            Name = "x", Width = 224, Height = 224, Scale = 1 / 255f, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
            Resize = new ResizeSpec { Mode = ResizeMode.CenterCrop, ShorterSide = 256 },
        },
        "nhwc-299" => new InputSpec
        {
            Name = "x", Width = 299, Height = 299, Layout = TensorLayout.Nhwc, ChannelOrder = ChannelOrder.Bgr, Scale = 2 / 255f,
            Mean = [1, 1, 1], Std = [1, 1, 1], Resize = new ResizeSpec { Mode = ResizeMode.CentralCrop, Fraction = 0.875 },
        },
        "odd-1x37" => new InputSpec { Name = "x", Width = 1, Height = 37, Scale = 3, Mean = [7, 8, 9], Std = [2, 3, 5] },
        _ when name.EndsWith("/pixels") => Spec(name[..^"/pixels".Length]).AsPixels(),
        _ => ModelCatalog.Load(Path.Combine(TestData.Models, name, ModelManifest.FileName)).Input,
    };

    /// <summary>The real photos as they are, and the first of them at odd sizes.</summary>
    private static IEnumerable<(string Name, Image<Rgb24> Image)> Pictures()
    {
        var loader = new ImageLoader();
        var files = Directory.EnumerateFiles(TestData.Images, "*.png").Concat(Directory.EnumerateFiles(TestData.Images, "*.jpg"))
            .Concat(Directory.EnumerateFiles(Path.Combine(TestData.Images, "exif-orientation"), "*.jpg")).Order(StringComparer.Ordinal);
        foreach (var file in files)
            yield return (Path.GetFileName(file), loader.Load(file));
        foreach (var (w, h) in new[] { (1, 1), (1, 300), (300, 1), (2, 3), (17, 9), (61, 37), (224, 224), (225, 1000), (1500, 41) })
        {
            var image = loader.Load(TestData.Chelsea);
            image.Mutate(x => x.Resize(w, h, KnownResamplers.NearestNeighbor)); // a picture of another size, not a resize under test
            yield return ($"chelsea at {w}x{h}", image);
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Fill_writes_the_scalar_paths_bits(string input)
    {
        var spec = Spec(input);
        var preprocessor = new Preprocessor(spec);
        var checkedImages = 0;
        foreach (var (name, image) in Pictures())
            using (image)
            {
                var rgb = new byte[image.Width * image.Height * 3];
                image.CopyPixelDataTo(MemoryMarshal.Cast<byte, Rgb24>(rgb.AsSpan()));
                var pixels = ScalarPreprocessor.Resize(rgb, image.Width, image.Height, spec);
                var (floats, bytes) = ScalarPreprocessor.Tensor(pixels, spec);

                var resized = new byte[pixels.Length];
                preprocessor.Resize(image, resized);
                Assert.True(pixels.AsSpan().SequenceEqual(resized), $"{input}, {name}: Resize differs from the scalar resize");

                // Slot 1 of 3, the other slots filled with a pattern that must survive.
                var batch = new InputBatch(spec, 3);
                if (batch.Floats is { } f) f.AsSpan().Fill(-12345.5f);
                else batch.Bytes!.AsSpan().Fill(0xA5);
                preprocessor.Fill(image, batch, 1);
                var n = batch.ImageLength;
                if (floats is not null)
                {
                    var ours = MemoryMarshal.Cast<float, int>(batch.Floats.AsSpan(n, n));
                    var reference = MemoryMarshal.Cast<float, int>(floats.AsSpan());
                    Assert.True(ours.SequenceEqual(reference), $"{input}, {name}: {Differing(ours, reference)} of {n} floats differ in their bits");
                    Assert.All(batch.Floats!.Take(n).Concat(batch.Floats!.Skip(2 * n)), v => Assert.Equal(-12345.5f, v));
                }
                else
                {
                    Assert.True(batch.Bytes.AsSpan(n, n).SequenceEqual(bytes), $"{input}, {name}: the bytes differ");
                    Assert.All(batch.Bytes!.Take(n).Concat(batch.Bytes!.Skip(2 * n)), v => Assert.Equal(0xA5, v));
                }
                checkedImages++;
            }
        Assert.True(checkedImages >= 30, $"only {checkedImages} pictures");
    }

    private static int Differing(ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        var n = 0;
        for (var i = 0; i < a.Length; i++)
            if (a[i] != b[i]) n++;
        return n;
    }
}
