using System.Buffers;
using System.Runtime.InteropServices;
using Classify.Inference;
using Classify.Models;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Preprocessing;

/// <summary>
/// Turns an upright RGB image into one slot of an <see cref="InputBatch"/> exactly as the model's manifest
/// says: resize policy (with Pillow's bilinear arithmetic, <see cref="BilinearResampler"/>), channel order, layout
/// (NCHW/NHWC), element type and normalisation (<see cref="TensorWriter"/>).
/// </summary>
public sealed class Preprocessor
{
    private readonly InputSpec _spec;
    private readonly TensorWriter _writer;

    public Preprocessor(InputSpec spec)
    {
        _spec = spec;
        _writer = new TensorWriter(spec);
    }

    /// <summary>The size an upright <paramref name="width"/>x<paramref name="height"/> image must at least have for
    /// the resize to only shrink it: the model's size (stretch), or the size before the crop (center crop).
    /// The decoder may scale a JPEG down to that (<see cref="Images.ImageLoaderOptions.DecodeAtLeast"/>).</summary>
    public (int Width, int Height) DecodeAtLeast(int width, int height)
    {
        var (w, h, _, _) = Geometry(width, height);
        return (w, h);
    }

    /// <summary>The size the image is resized to and where the model's window starts in it.</summary>
    private (int Width, int Height, int Left, int Top) Geometry(int width, int height) =>
        _spec.Resize.Mode == ResizeMode.CenterCrop
            ? CenterCropGeometry(width, height, _spec.Resize.ShorterSide, _spec.Width, _spec.Height)
            : (_spec.Width, _spec.Height, 0, 0);

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

    /// <summary>Resizes the image as the manifest says and writes it into slot <paramref name="slot"/> of
    /// <paramref name="batch"/>. The image is not changed.</summary>
    public void Fill(Image<Rgb24> image, InputBatch batch, int slot)
    {
        var pixels = ArrayPool<byte>.Shared.Rent(3 * _spec.Width * _spec.Height);
        try
        {
            Resize(image, pixels);
            _writer.Write(pixels.AsSpan(0, 3 * _spec.Width * _spec.Height), batch, slot);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pixels);
        }
    }

    /// <summary>The model's input window of the resized image as packed RGB rows (Width x Height x 3 bytes):
    /// Pillow's resize (and, for center crop, crop) of the same picture, byte for byte.</summary>
    public void Resize(Image<Rgb24> image, byte[] destination)
    {
        var (w, h, left, top) = Geometry(image.Width, image.Height);
        if (left < 0 || top < 0 || left + _spec.Width > w || top + _spec.Height > h)
            throw new ArgumentException($"the {_spec.Width}x{_spec.Height} crop does not fit in {w}x{h}");
        image.ProcessPixelRows(accessor =>
        {
            var rows = new AccessorRows(accessor);
            BilinearResampler.Resize(ref rows, image.Width, image.Height, w, h, left, top, _spec.Width, _spec.Height, destination);
        });
    }

    private readonly ref struct AccessorRows(SixLabors.ImageSharp.PixelAccessor<Rgb24> accessor) : IRowSource
    {
        private readonly SixLabors.ImageSharp.PixelAccessor<Rgb24> _accessor = accessor;

        public ReadOnlySpan<byte> Row(int y) => MemoryMarshal.AsBytes(_accessor.GetRowSpan(y));
    }
}
