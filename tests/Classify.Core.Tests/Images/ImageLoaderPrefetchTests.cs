using Classify.Images;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Images;

public sealed class ImageLoaderPrefetchTests
{
    [Fact]
    public void A_prefetched_image_has_the_same_pixels_as_a_direct_load()
    {
        var loader = new ImageLoader();
        loader.Prefetch(TestData.Chelsea);

        using var prefetched = loader.Load(TestData.Chelsea);
        using var direct = new ImageLoader().Load(TestData.Chelsea);

        Assert.Equal((direct.Width, direct.Height), (prefetched.Width, prefetched.Height));
        var a = new Rgb24[direct.Width * direct.Height];
        var b = new Rgb24[a.Length];
        direct.CopyPixelDataTo(a);
        prefetched.CopyPixelDataTo(b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void A_prefetch_that_failed_reports_its_error_on_load()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("x.png"), "not a png");
        var loader = new ImageLoader();
        loader.Prefetch(dir.File("x.png"));

        var e = Assert.Throws<ClassifyException>(() => loader.Load(dir.File("x.png")));
        Assert.Equal(ExitCode.ImageUnsupported, e.ExitCode);
    }

    [Fact]
    public void A_prefetch_serves_one_load_only_and_only_its_own_path()
    {
        var loader = new ImageLoader();
        loader.Prefetch(TestData.Chelsea);

        using var other = loader.Load(TestData.Coffee);
        using var first = loader.Load(TestData.Chelsea);
        using var second = loader.Load(TestData.Chelsea);

        Assert.Equal(600, other.Width);
        Assert.NotSame(first, second);
    }
}
