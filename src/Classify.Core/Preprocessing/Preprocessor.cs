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
    /// the resize to only shrink it: the model's size (stretch), the size before the crop (center crop), or the size
    /// whose central crop is the model's size (central crop). The decoder may scale a JPEG down to that
    /// (<see cref="Images.ImageLoaderOptions.DecodeAtLeast"/>).</summary>
    public (int Width, int Height) DecodeAtLeast(int width, int height)
    {
        if (_spec.Resize.Mode == ResizeMode.CentralCrop)
            return (UncroppedSize(_spec.Width, _spec.Resize.Fraction), UncroppedSize(_spec.Height, _spec.Resize.Fraction));
        var plan = Geometry(width, height);
        return (plan.Width, plan.Height);
    }

    /// <summary>A side from which on every central crop is at least <paramref name="size"/>: the crop of a side n is at
    /// least n * fraction (the margin is truncated), so ceil(size / fraction); the loop only guards the float64 rounding.</summary>
    internal static int UncroppedSize(int size, double fraction)
    {
        var n = (int)Math.Ceiling(size / fraction);
        while (CentralCrop(n, fraction).Size < size)
            n++;
        return n;
    }

    /// <summary>Which part of the source is resized (the whole image, or for central crop its centre), the size it is
    /// resized to, and where the model's window starts in the result.</summary>
    private readonly record struct Plan(int SourceLeft, int SourceTop, int SourceWidth, int SourceHeight, int Width, int Height, int Left, int Top);

    private Plan Geometry(int width, int height)
    {
        switch (_spec.Resize.Mode)
        {
            case ResizeMode.CenterCrop:
                var (w, h, left, top) = CenterCropGeometry(width, height, _spec.Resize.ShorterSide, _spec.Width, _spec.Height);
                return new Plan(0, 0, width, height, w, h, left, top);
            case ResizeMode.CentralCrop:
                var (x, cw) = CentralCrop(width, _spec.Resize.Fraction);
                var (y, ch) = CentralCrop(height, _spec.Resize.Fraction);
                return new Plan(x, y, cw, ch, _spec.Width, _spec.Height, 0, 0);
            default:
                return new Plan(0, 0, width, height, _spec.Width, _spec.Height, 0, 0);
        }
    }

    /// <summary>tf.image.central_crop's arithmetic for one side, exactly (float64, truncated, the same margin cut from
    /// both ends): start = int((n - n * fraction) / 2), size = n - 2 * start.</summary>
    internal static (int Start, int Size) CentralCrop(int n, double fraction)
    {
        var start = (int)((n - n * fraction) / 2);
        return (start, n - 2 * start);
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

    /// <summary>Resizes the image as the manifest says and writes it into slot <paramref name="slot"/> of
    /// <paramref name="batch"/>, in one pass: each resized row goes to the <see cref="TensorWriter"/> as soon as it is
    /// made (no resized image is stored), the same values as <see cref="Resize"/> then <see cref="TensorWriter.Write"/>.
    /// The image is not changed.</summary>
    public void Fill(Image<Rgb24> image, InputBatch batch, int slot)
    {
        var p = Check(image);
        var sink = new TensorRows(_writer, batch, slot);
        var window = new SourceWindow(p.SourceLeft, p.SourceTop, p.SourceWidth, p.SourceHeight);
        // The decoders make contiguous images: their rows are read without a delegate (and its allocation) per image.
        if (image.DangerousTryGetSinglePixelMemory(out var memory))
        {
            var rows = new PackedSource(MemoryMarshal.AsBytes(memory.Span), 3 * image.Width);
            BilinearResampler.Resize(ref rows, window, p.Width, p.Height, p.Left, p.Top, _spec.Width, _spec.Height, ref sink);
            return;
        }
        image.ProcessPixelRows(accessor =>
        {
            var rows = new AccessorRows(accessor);
            BilinearResampler.Resize(ref rows, window, p.Width, p.Height, p.Left, p.Top, _spec.Width, _spec.Height, ref sink);
        });
    }

    /// <summary>The model's input window of the resized image as packed RGB rows (Width x Height x 3 bytes):
    /// Pillow's resize (for center crop followed by a crop, for central crop preceded by one) of the same picture,
    /// byte for byte.</summary>
    public void Resize(Image<Rgb24> image, byte[] destination)
    {
        var p = Check(image);
        image.ProcessPixelRows(accessor =>
        {
            var rows = new AccessorRows(accessor);
            BilinearResampler.Resize(ref rows, new SourceWindow(p.SourceLeft, p.SourceTop, p.SourceWidth, p.SourceHeight),
                p.Width, p.Height, p.Left, p.Top, _spec.Width, _spec.Height, destination);
        });
    }

    private Plan Check(Image<Rgb24> image)
    {
        var p = Geometry(image.Width, image.Height);
        if (p.Left < 0 || p.Top < 0 || p.Left + _spec.Width > p.Width || p.Top + _spec.Height > p.Height)
            throw new ArgumentException($"the {_spec.Width}x{_spec.Height} crop does not fit in {p.Width}x{p.Height}");
        return p;
    }

    /// <summary>Each resized row written into the batch's slot.</summary>
    private readonly struct TensorRows(TensorWriter writer, InputBatch batch, int slot) : IRowSink
    {
        public Span<byte> Begin(int y, Span<byte> scratch) => scratch;

        public void End(int y, ReadOnlySpan<byte> row) => writer.WriteRow(row, batch, slot, y);
    }

    private readonly ref struct PackedSource(ReadOnlySpan<byte> pixels, int stride) : IRowSource
    {
        private readonly ReadOnlySpan<byte> _pixels = pixels;

        public ReadOnlySpan<byte> Row(int y) => _pixels.Slice(y * stride, stride);
    }

    private readonly ref struct AccessorRows(SixLabors.ImageSharp.PixelAccessor<Rgb24> accessor) : IRowSource
    {
        private readonly SixLabors.ImageSharp.PixelAccessor<Rgb24> _accessor = accessor;

        public ReadOnlySpan<byte> Row(int y) => MemoryMarshal.AsBytes(_accessor.GetRowSpan(y));
    }
}
