using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Tests.Preprocessing;

public sealed class PreprocessorTests
{
    // A 3x2 image (wider than tall, so a width/height mix-up shows) whose channels all differ:
    //   (10,20,30)   (40,50,60)   (70,80,90)
    //   (100,110,120) (130,140,150) (160,170,180)
    private static Image<Rgb24> Tiny()
    {
        var image = new Image<Rgb24>(3, 2);
        for (var y = 0; y < 2; y++)
            for (var x = 0; x < 3; x++)
            {
                var v = (byte)(10 + 30 * (y * 3 + x));
                image[x, y] = new Rgb24(v, (byte)(v + 10), (byte)(v + 20));
            }
        return image;
    }

    private static InputSpec Spec(TensorLayout layout, TensorElementKind type, ChannelOrder order, int width = 3, int height = 2,
        float scale = 1, float[]? mean = null, float[]? std = null, ResizeSpec? resize = null) => new()
    {
        Name = "x", Layout = layout, ElementType = type, ChannelOrder = order, Width = width, Height = height,
        Scale = scale, Mean = mean ?? [0, 0, 0], Std = std ?? [1, 1, 1], Resize = resize ?? new ResizeSpec(),
    };

    private static void AssertClose(float[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-5, $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void Nchw_float_bgr_is_planar_blue_first_and_normalised()
    {
        // Mean and std are in the model's channel order (B, G, R): value = (pixel * 0.5 - mean) / std.
        var spec = Spec(TensorLayout.Nchw, TensorElementKind.Float32, ChannelOrder.Bgr, scale: 0.5f, mean: [5, 10, 15], std: [5, 10, 5]);
        var batch = new InputBatch(spec, 1) { Count = 1 };
        using var image = Tiny();

        new Preprocessor(spec).Fill(image, batch, 0);

        AssertClose(
        [
            2, 5, 8, 11, 14, 17,          // B: 30 60 90 120 150 180
            0, 1.5f, 3, 4.5f, 6, 7.5f,    // G: 20 50 80 110 140 170
            -2, 1, 4, 7, 10, 13,          // R: 10 40 70 100 130 160
        ], batch.Floats);
    }

    [Fact]
    public void Nhwc_uint8_rgb_is_the_raw_pixels_row_by_row()
    {
        var spec = Spec(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Rgb);
        var batch = new InputBatch(spec, 1) { Count = 1 };
        using var image = Tiny();

        new Preprocessor(spec).Fill(image, batch, 0);

        Assert.Null(batch.Floats);
        Assert.Equal(new byte[] { 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180 }, batch.Bytes);
    }

    [Fact]
    public void Nchw_float_rgb_keeps_red_first()
    {
        var spec = Spec(TensorLayout.Nchw, TensorElementKind.Float32, ChannelOrder.Rgb);
        var batch = new InputBatch(spec, 1) { Count = 1 };
        using var image = Tiny();

        new Preprocessor(spec).Fill(image, batch, 0);

        AssertClose([10, 40, 70, 100, 130, 160, 20, 50, 80, 110, 140, 170, 30, 60, 90, 120, 150, 180], batch.Floats);
    }

    [Fact]
    public void Second_slot_lands_after_the_first_and_leaves_it_untouched()
    {
        var spec = Spec(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Bgr);
        var batch = new InputBatch(spec, 2) { Count = 2 };
        using var image = Tiny();

        new Preprocessor(spec).Fill(image, batch, 1);

        Assert.All(batch.Bytes![..18], b => Assert.Equal(0, b));
        Assert.Equal(new byte[] { 30, 20, 10, 60, 50, 40, 90, 80, 70, 120, 110, 100, 150, 140, 130, 180, 170, 160 }, batch.Bytes[18..]);
    }

    [Fact]
    public void Stretch_of_a_uniform_image_keeps_its_colour()
    {
        var spec = Spec(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Rgb, width: 4, height: 4);
        var batch = new InputBatch(spec, 1) { Count = 1 };
        using var image = new Image<Rgb24>(9, 3, new Rgb24(200, 100, 50));

        new Preprocessor(spec).Fill(image, batch, 0);

        for (var i = 0; i < batch.Bytes!.Length; i += 3)
            Assert.Equal((200, 100, 50), (batch.Bytes[i], batch.Bytes[i + 1], batch.Bytes[i + 2]));
    }

    // Columns x hold the value 10 * (x + 1) in every channel, rows y add y, so a crop shows which cells it kept.
    private static Image<Rgb24> Grid(int width, int height)
    {
        var image = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var v = (byte)(10 * (x + 1) + y);
                image[x, y] = new Rgb24(v, v, v);
            }
        return image;
    }

    private static byte[] Red(InputBatch batch) => batch.Bytes!.Where((_, i) => i % 3 == 0).ToArray();

    [Fact]
    public void Center_crop_of_a_wide_image_keeps_the_middle_columns()
    {
        // Shorter side already 2: no scaling, only the crop of the centre 2x2 of a 4x2 image (columns 1 and 2).
        var spec = Spec(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Rgb, width: 2, height: 2,
            resize: new ResizeSpec { Mode = ResizeMode.CenterCrop, ShorterSide = 2 });
        var batch = new InputBatch(spec, 1) { Count = 1 };
        using var image = Grid(4, 2);

        new Preprocessor(spec).Fill(image, batch, 0);

        Assert.Equal(new byte[] { 20, 30, 21, 31 }, Red(batch));
    }

    [Fact]
    public void Center_crop_of_a_tall_image_keeps_the_middle_rows()
    {
        var spec = Spec(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Rgb, width: 3, height: 3,
            resize: new ResizeSpec { Mode = ResizeMode.CenterCrop, ShorterSide = 3 });
        var batch = new InputBatch(spec, 1) { Count = 1 };
        using var image = Grid(3, 7);

        new Preprocessor(spec).Fill(image, batch, 0);

        // (7 - 3) / 2 = 2: rows 2, 3 and 4.
        Assert.Equal(new byte[] { 12, 22, 32, 13, 23, 33, 14, 24, 34 }, Red(batch));
    }

    [Theory]
    [InlineData(8, new byte[] { 30, 40, 50 })]   // offset 2.5 rounds to 2
    [InlineData(10, new byte[] { 50, 60, 70 })]  // offset 3.5 rounds to 4 (torchvision: int(round(3.5)))
    public void Center_crop_offset_rounds_half_to_even_like_torchvision(int width, byte[] firstRow)
    {
        var spec = Spec(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Rgb, width: 3, height: 3,
            resize: new ResizeSpec { Mode = ResizeMode.CenterCrop, ShorterSide = 3 });
        var batch = new InputBatch(spec, 1) { Count = 1 };
        using var image = Grid(width, 3);

        new Preprocessor(spec).Fill(image, batch, 0);

        Assert.Equal(firstRow, Red(batch)[..3]);
    }

    [Theory]
    [InlineData(451, 300, 384, 256, 80, 16)]  // int(256 * 451 / 300) = 384 (not 385); (384 - 224) / 2 = 80
    [InlineData(300, 451, 256, 384, 16, 80)]
    [InlineData(43, 15, 733, 256, 254, 16)]   // 733.8 truncated; (733 - 224) / 2 = 254.5 rounds to 254
    [InlineData(500, 500, 256, 256, 16, 16)]
    public void Center_crop_geometry_is_torchvisions(int width, int height, int resizedWidth, int resizedHeight, int left, int top)
    {
        Assert.Equal((resizedWidth, resizedHeight, left, top), Preprocessor.CenterCropGeometry(width, height, 256, 224, 224));
    }

    [Theory]
    [InlineData(451, 28, 395)]  // int(56.375 / 2) = 28: the margin is truncated, both ends lose the same
    [InlineData(300, 18, 264)]  // int(18.75)
    [InlineData(256, 16, 224)]
    [InlineData(15, 0, 15)]     // int(0.9375): nothing cut
    [InlineData(16, 1, 14)]
    [InlineData(1, 0, 1)]
    public void Central_crop_is_tf_image_central_crops_arithmetic(int side, int start, int size)
    {
        Assert.Equal((start, size), Preprocessor.CentralCrop(side, 0.875));
    }

    [Fact]
    public void Central_crop_of_a_tall_image_stretches_the_middle_to_the_model_size()
    {
        // 3x16 at fraction 0.875: int(0.375 / 2) = 0 columns and int(2 / 2) = 1 row cut at each end; the 3x14 left is
        // the model's size, so the resize copies it: rows 1 to 14.
        var spec = Spec(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Rgb, width: 3, height: 14,
            resize: new ResizeSpec { Mode = ResizeMode.CentralCrop, Fraction = 0.875 });
        var batch = new InputBatch(spec, 1) { Count = 1 };
        using var image = Grid(3, 16);

        new Preprocessor(spec).Fill(image, batch, 0);

        Assert.Equal(Enumerable.Range(1, 14).SelectMany(y => new[] { 10 + y, 20 + y, 30 + y }).Select(v => (byte)v), Red(batch));
    }

    [Theory]
    [InlineData(0.875)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(0.3)]
    public void Central_crop_decodes_at_least_a_size_whose_crop_covers_the_model(double fraction)
    {
        // A JPEG is scaled in the DCT to at least this: the crop of it, and of anything larger, must not be enlarged.
        var spec = Spec(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Rgb, width: 224, height: 199,
            resize: new ResizeSpec { Mode = ResizeMode.CentralCrop, Fraction = fraction });
        var (w, h) = new Preprocessor(spec).DecodeAtLeast(4000, 3000);

        for (var n = w; n < w + 600; n++)
            Assert.True(Preprocessor.CentralCrop(n, fraction).Size >= 224, $"width {n}");
        for (var n = h; n < h + 600; n++)
            Assert.True(Preprocessor.CentralCrop(n, fraction).Size >= 199, $"height {n}");
        Assert.Equal(((int)Math.Ceiling(224 / fraction), (int)Math.Ceiling(199 / fraction)), (w, h)); // and no larger
    }

    [Fact]
    public void Writer_refuses_pixels_of_the_wrong_size()
    {
        var spec = Spec(TensorLayout.Nchw, TensorElementKind.Float32, ChannelOrder.Rgb, width: 2, height: 2);

        Assert.Throws<ArgumentException>(() => new TensorWriter(spec).Write(new byte[18], new InputBatch(spec, 1), 0));
    }

    [Theory]
    [InlineData(TensorLayout.Nchw, TensorElementKind.Float32, ChannelOrder.Bgr)]
    [InlineData(TensorLayout.Nchw, TensorElementKind.Float32, ChannelOrder.Rgb)]
    [InlineData(TensorLayout.Nhwc, TensorElementKind.Float32, ChannelOrder.Bgr)]
    [InlineData(TensorLayout.Nhwc, TensorElementKind.Float32, ChannelOrder.Rgb)]
    [InlineData(TensorLayout.Nchw, TensorElementKind.Uint8, ChannelOrder.Bgr)]
    [InlineData(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Bgr)]
    [InlineData(TensorLayout.Nhwc, TensorElementKind.Uint8, ChannelOrder.Rgb)]
    public void Vectorised_writer_gives_exactly_the_values_of_the_formula(TensorLayout layout, TensorElementKind type, ChannelOrder order)
    {
        // 19x13 = 247 pixels: 15 blocks of 16 through the vector code and 7 left for the scalar loop, second slot.
        var spec = Spec(layout, type, order, width: 19, height: 13, scale: 1 / 255f, mean: [0.485f, 0.456f, 0.406f], std: [0.229f, 0.224f, 0.225f]);
        var pixels = new byte[19 * 13 * 3];
        new Random(7).NextBytes(pixels);
        var batch = new InputBatch(spec, 2) { Count = 2 };

        new TensorWriter(spec).Write(pixels, batch, 1);

        var plane = 19 * 13;
        for (var p = 0; p < plane; p++)
            for (var c = 0; c < 3; c++)
            {
                var source = pixels[3 * p + (order == ChannelOrder.Bgr ? 2 - c : c)];
                var i = batch.ImageLength + (layout == TensorLayout.Nchw ? c * plane + p : 3 * p + c);
                if (type == TensorElementKind.Uint8)
                    Assert.Equal(source, batch.Bytes![i]);
                else
                    Assert.Equal(source * (spec.Scale / spec.Std[c]) + -spec.Mean[c] / spec.Std[c], batch.Floats![i]);
            }
        Assert.All(type == TensorElementKind.Uint8 ? batch.Bytes![..batch.ImageLength].Select(b => (float)b) : batch.Floats![..batch.ImageLength],
            v => Assert.Equal(0, v));
    }
}
