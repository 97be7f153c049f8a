using Classify.Inference;
using Classify.Models;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Classify.Preprocessing;

/// <summary>
/// Turns an upright RGB image into one slot of an <see cref="InputBatch"/> exactly as the model's manifest
/// says: resize policy, channel order, layout (NCHW/NHWC), element type and normalisation.
/// </summary>
public sealed class Preprocessor
{
    private readonly InputSpec _spec;
    private readonly float[] _multiplier = new float[3];
    private readonly float[] _offset = new float[3];

    public Preprocessor(InputSpec spec)
    {
        _spec = spec;
        // (p * scale - mean) / std folded into one multiply-add per value.
        for (var c = 0; c < 3; c++)
        {
            _multiplier[c] = spec.Scale / spec.Std[c];
            _offset[c] = -spec.Mean[c] / spec.Std[c];
        }
    }

    /// <summary>Resizes <paramref name="image"/> in place to the model's input size.</summary>
    public void Resize(Image<Rgb24> image)
    {
        var size = new Size(_spec.Width, _spec.Height);
        if (_spec.Resize.Mode == Models.ResizeMode.CenterCrop)
        {
            var (w, h, left, top) = CenterCropGeometry(image.Width, image.Height, _spec.Resize.ShorterSide, size.Width, size.Height);
            image.Mutate(x =>
            {
                if (w != image.Width || h != image.Height)
                    x.Resize(w, h, KnownResamplers.Triangle);
                x.Crop(new Rectangle(left, top, size.Width, size.Height));
            });
        }
        else if (image.Width != size.Width || image.Height != size.Height)
        {
            image.Mutate(x => x.Resize(size.Width, size.Height, KnownResamplers.Triangle));
        }
    }

    /// <summary>The size an upright <paramref name="width"/>x<paramref name="height"/> image must at least have for
    /// <see cref="Resize"/> to only shrink it: the model's size (stretch), or the size before the crop (center crop).
    /// The decoder may scale a JPEG down to that (<see cref="Images.ImageLoaderOptions.DecodeAtLeast"/>).</summary>
    public (int Width, int Height) DecodeAtLeast(int width, int height)
    {
        if (_spec.Resize.Mode != Models.ResizeMode.CenterCrop)
            return (_spec.Width, _spec.Height);
        var (w, h, _, _) = CenterCropGeometry(width, height, _spec.Resize.ShorterSide, _spec.Width, _spec.Height);
        return (w, h);
    }

    /// <summary>The size the image is resized to and where the crop starts, with torchvision's arithmetic exactly
    /// (Resize(int) then CenterCrop), so models trained with it see the same pixels: the longer side is truncated,
    /// int(size * long / short), and the crop offset is rounded half to even, int(round(d / 2.0)).</summary>
    internal static (int Width, int Height, int Left, int Top) CenterCropGeometry(int width, int height, int shorter, int cropWidth, int cropHeight)
    {
        var (w, h) = width <= height
            ? (shorter, (int)((long)shorter * height / width))
            : ((int)((long)shorter * width / height), shorter);
        return (w, h,
            (int)Math.Round((w - cropWidth) / 2.0, MidpointRounding.ToEven),
            (int)Math.Round((h - cropHeight) / 2.0, MidpointRounding.ToEven));
    }

    /// <summary>Resizes the image and writes it into slot <paramref name="slot"/> of <paramref name="batch"/>.</summary>
    public void Fill(Image<Rgb24> image, InputBatch batch, int slot)
    {
        Resize(image);
        Write(image, batch, slot);
    }

    /// <summary>Writes an image already of the input size into slot <paramref name="slot"/>.</summary>
    public void Write(Image<Rgb24> image, InputBatch batch, int slot)
    {
        if (image.Width != _spec.Width || image.Height != _spec.Height)
            throw new ArgumentException($"image is {image.Width}x{image.Height}, the model takes {_spec.Width}x{_spec.Height}");
        var w = _spec.Width;
        var h = _spec.Height;
        var plane = w * h;
        var bgr = _spec.ChannelOrder == ChannelOrder.Bgr;
        var nchw = _spec.Layout == TensorLayout.Nchw;
        var start = slot * batch.ImageLength;
        var floats = batch.Floats;
        var bytes = batch.Bytes;
        var mul = _multiplier;
        var add = _offset;
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < h; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < w; x++)
                {
                    var p = row[x];
                    byte c0 = bgr ? p.B : p.R, c1 = p.G, c2 = bgr ? p.R : p.B;
                    int i0, i1, i2;
                    if (nchw)
                    {
                        i0 = start + y * w + x;
                        i1 = i0 + plane;
                        i2 = i1 + plane;
                    }
                    else
                    {
                        i0 = start + (y * w + x) * 3;
                        i1 = i0 + 1;
                        i2 = i0 + 2;
                    }
                    if (floats is not null)
                    {
                        floats[i0] = c0 * mul[0] + add[0];
                        floats[i1] = c1 * mul[1] + add[1];
                        floats[i2] = c2 * mul[2] + add[2];
                    }
                    else
                    {
                        bytes![i0] = c0;
                        bytes[i1] = c1;
                        bytes[i2] = c2;
                    }
                }
            }
        });
    }
}
