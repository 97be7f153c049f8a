using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Tests.Preprocessing;

/// <summary>
/// The reference the fast path is held to: Pillow's bilinear resize and the tensor layout written as plainly as
/// possible, one value at a time, with no vector, no window skipping and no fusion (every source row of the window
/// is resized horizontally, the whole resized image is stored, then laid out). Kept in the tests so that any
/// rewrite of <see cref="BilinearResampler"/>, <see cref="TensorWriter"/> or <see cref="Preprocessor.Fill"/> is
/// compared with the arithmetic as it was, bit for bit.
/// </summary>
internal static class ScalarPreprocessor
{
    private const int PrecisionBits = 22;

    /// <summary>The model's window of the resized picture, packed RGB: what <see cref="Preprocessor.Resize"/> gives.</summary>
    public static byte[] Resize(byte[] rgb, int width, int height, InputSpec spec)
    {
        // The source window, the size it is resized to and the crop of that (the manifest's resize policy).
        int sx = 0, sy = 0, sw = width, sh = height, toW = spec.Width, toH = spec.Height, left = 0, top = 0;
        if (spec.Resize.Mode == ResizeMode.CenterCrop)
            (toW, toH, left, top) = Preprocessor.CenterCropGeometry(width, height, spec.Resize.ShorterSide, spec.Width, spec.Height);
        else if (spec.Resize.Mode == ResizeMode.CentralCrop)
        {
            (sx, sw) = Preprocessor.CentralCrop(width, spec.Resize.Fraction);
            (sy, sh) = Preprocessor.CentralCrop(height, spec.Resize.Fraction);
        }
        var (cw, ch) = (spec.Width, spec.Height);
        var (hWeights, hFirst, hCount) = Coefficients(sw, toW, left, cw);
        var (vWeights, vFirst, vCount) = Coefficients(sh, toH, top, ch);

        var rowBytes = 3 * cw;
        var across = new byte[sh * rowBytes];
        for (var y = 0; y < sh; y++)
            for (var x = 0; x < cw; x++)
                for (var c = 0; c < 3; c++)
                {
                    var sum = 1 << (PrecisionBits - 1);
                    for (var k = 0; k < hCount[x]; k++)
                        sum += rgb[(sy + y) * width * 3 + (sx + hFirst[x] + k) * 3 + c] * hWeights[x][k];
                    across[y * rowBytes + 3 * x + c] = Clip(sum);
                }
        var result = new byte[ch * rowBytes];
        for (var y = 0; y < ch; y++)
            for (var i = 0; i < rowBytes; i++)
            {
                var sum = 1 << (PrecisionBits - 1);
                for (var k = 0; k < vCount[y]; k++)
                    sum += across[(vFirst[y] + k) * rowBytes + i] * vWeights[y][k];
                result[y * rowBytes + i] = Clip(sum);
            }
        return result;
    }

    /// <summary>The packed RGB pixels as one image of the model's input: channel order, layout, element type and
    /// value = pixel * multiplier + offset in float32, as <see cref="TensorWriter.Write"/> writes it.</summary>
    public static (float[]? Floats, byte[]? Bytes) Tensor(byte[] pixels, InputSpec spec)
    {
        var (mul, add, channel) = (spec.Multipliers(), spec.Offsets(), spec.SourceChannels());
        var plane = spec.Width * spec.Height;
        var floats = spec.ElementType == TensorElementKind.Float32 ? new float[3 * plane] : null;
        var bytes = floats is null ? new byte[3 * plane] : null;
        for (var p = 0; p < plane; p++)
            for (var c = 0; c < 3; c++)
            {
                var index = spec.Layout == TensorLayout.Nchw ? c * plane + p : 3 * p + c;
                var value = pixels[3 * p + channel[c]];
                if (floats is not null)
                {
                    var product = value * mul[c]; // rounded to float32, then the add: no fused multiply-add
                    floats[index] = product + add[c];
                }
                else
                    bytes![index] = value;
            }
        return (floats, bytes);
    }

    /// <summary>Pillow's precompute_coeffs and normalize_coeffs_8bpc, for output indices start to start + count.</summary>
    private static (int[][] Weights, int[] First, int[] Count) Coefficients(int inSize, int outSize, int start, int count)
    {
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = filterScale;
        var weights = new int[count][];
        var first = new int[count];
        var taps = new int[count];
        for (var i = 0; i < count; i++)
        {
            var center = (start + i + 0.5) * scale;
            var xmin = Math.Max((int)(center - support + 0.5), 0);
            var xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            var k = new double[xmax];
            double ww = 0;
            for (var x = 0; x < xmax; x++)
            {
                var t = Math.Abs((x + xmin - center + 0.5) * (1.0 / filterScale)); // Pillow's ss = 1 / filterscale
                k[x] = t < 1.0 ? 1.0 - t : 0.0;
                ww += k[x];
            }
            weights[i] = new int[xmax];
            for (var x = 0; x < xmax; x++)
            {
                var w = ww != 0 ? k[x] / ww : k[x];
                weights[i][x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            (first[i], taps[i]) = (xmin, xmax);
        }
        return (weights, first, taps);
    }

    private static byte Clip(int sum) => (byte)Math.Clamp(sum >> PrecisionBits, 0, 255);
}
