using Classify.Images;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Images;

/// <summary>The decoders' memory is zero when handed out, whether new, kept for reuse (ImageNet-sized pixels) or
/// mapped (large ones): a decoder that leaves pixels unwritten must leave zeros, never another image's pixels.</summary>
public sealed class CleanMemoryAllocatorTests
{
    [Theory]
    [InlineData(1_000)]        // a new array
    [InlineData(540 * 440)]    // an ImageNet-sized photo's pixels: a kept array
    [InlineData(1_200 * 900)]  // a mapping
    public void Memory_given_back_dirty_comes_out_again_zeroed(int pixels)
    {
        var allocator = new CleanMemoryAllocator(1L << 30);
        for (var round = 0; round < 3; round++)
        {
            // Sizes that differ between rounds: a kept array is reused for a smaller request and a larger one.
            var length = pixels - round * 97 + (round == 2 ? 150 : 0);
            using var owner = allocator.Allocate<Rgb24>(length);
            var span = owner.Memory.Span;
            Assert.Equal(length, span.Length);
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.AsBytes(span).IndexOfAnyExcept((byte)0) < 0, $"round {round}: not zero");
            span.Fill(new Rgb24(200, 100, 50));
        }
    }

    [Fact]
    public void Two_images_alive_at_once_never_share_memory()
    {
        var allocator = new CleanMemoryAllocator(1L << 30);
        var config = Configuration.Default.Clone();
        config.MemoryAllocator = allocator;
        config.PreferContiguousImageBuffers = true;
        using (new Image<Rgb24>(config, 500, 400)) { }
        using var a = new Image<Rgb24>(config, 500, 400, new Rgb24(1, 2, 3));
        using var b = new Image<Rgb24>(config, 500, 400, new Rgb24(7, 8, 9));
        Assert.Equal(new Rgb24(1, 2, 3), a[499, 399]);
        Assert.Equal(new Rgb24(7, 8, 9), b[0, 0]);
    }
}
