using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Classify.Preprocessing;

/// <summary>
/// Pillow's bilinear resize (Image.resize(size, BILINEAR), what torchvision's Resize does to a PIL image), bit for bit:
/// a triangle filter widened by the scale factor (antialiased when shrinking), the same double-precision weights
/// rounded to Pillow's 22-bit fixed point, a horizontal pass then a vertical pass, each rounded and clipped to 8 bits.
/// Integer arithmetic gives the same bytes on every CPU and in the JIT and Native AOT builds (ImageSharp's float resize
/// took a different SIMD path in each), and it is faster. Buffers come from the shared array pool.
/// </summary>
internal static partial class BilinearResampler
{
    private const int PrecisionBits = 32 - 8 - 2;
    private const int Half = 1 << (PrecisionBits - 1);

    /// <summary>The weights of one pass: for output index i, <c>Kernel</c> taps starting at source index
    /// <c>First[i]</c>, <c>Count[i]</c> of them non-zero.</summary>
    private ref struct Coefficients
    {
        public int Kernel;
        public int[] Weights;
        public int[] First;
        public int[] Count;

        public readonly void Return()
        {
            ArrayPool<int>.Shared.Return(Weights);
            ArrayPool<int>.Shared.Return(First);
            ArrayPool<int>.Shared.Return(Count);
        }
    }

    /// <summary>
    /// Resizes the <paramref name="source"/> window of an RGB image (3 bytes a pixel, rows given by <paramref name="row"/>)
    /// to <paramref name="width"/>x<paramref name="height"/>, and writes the window of
    /// <paramref name="cropWidth"/>x<paramref name="cropHeight"/> at (<paramref name="left"/>, <paramref name="top"/>)
    /// of that result into <paramref name="destination"/> (RGB, rows packed): the same bytes as Pillow's
    /// crop(source).resize((width, height)).crop(window), computing only the pixels kept and copying no source pixel.
    /// </summary>
    public static void Resize<TRows>(ref TRows row, SourceWindow source, int width, int height,
        int left, int top, int cropWidth, int cropHeight, Span<byte> destination) where TRows : IRowSource, allows ref struct
    {
        if (destination.Length < cropWidth * cropHeight * 3)
            throw new ArgumentException("destination too small", nameof(destination));
        var sink = new PackedRows(destination, cropWidth * 3);
        Resize(ref row, source, width, height, left, top, cropWidth, cropHeight, ref sink);
    }

    /// <summary>The same resize, each output row handed to <paramref name="sink"/> as soon as it is made (the tensor
    /// writer takes it from there), so that no whole resized image is ever stored.</summary>
    public static void Resize<TRows, TSink>(ref TRows row, SourceWindow source, int width, int height,
        int left, int top, int cropWidth, int cropHeight, ref TSink sink)
        where TRows : IRowSource, allows ref struct where TSink : IRowSink, allows ref struct
    {
        var sourceWidth = source.Width;
        var horizontal = Precompute(sourceWidth, width, left, cropWidth);
        var vertical = Precompute(source.Height, height, top, cropHeight);
        try
        {
            // Only the source rows some output row reads are resized horizontally, as Pillow does.
            var firstRow = vertical.First[0];
            var lastRow = vertical.First[cropHeight - 1] + vertical.Count[cropHeight - 1];
            var rowBytes = cropWidth * 3;
            // The horizontally resized rows, then one row of scratch for a sink that wants it.
            var temp = ArrayPool<byte>.Shared.Rent(rowBytes * (lastRow - firstRow + 1));
            try
            {
                var y = firstRow;
                Span<byte> Across(int y) => temp.AsSpan((y - firstRow) * rowBytes, rowBytes);
                if (FourRows)
                    for (; y + 3 < lastRow; y += 4)
                        Horizontal4(row.Row(source.Top + y)[(source.Left * 3)..], row.Row(source.Top + y + 1)[(source.Left * 3)..],
                            row.Row(source.Top + y + 2)[(source.Left * 3)..], row.Row(source.Top + y + 3)[(source.Left * 3)..],
                            Across(y), Across(y + 1), Across(y + 2), Across(y + 3), horizontal, sourceWidth);
                if (TwoRows)
                    for (; y + 1 < lastRow; y += 2)
                        Horizontal2(row.Row(source.Top + y)[(source.Left * 3)..], row.Row(source.Top + y + 1)[(source.Left * 3)..],
                            temp.AsSpan((y - firstRow) * rowBytes, rowBytes), temp.AsSpan((y + 1 - firstRow) * rowBytes, rowBytes), horizontal, sourceWidth);
                for (; y < lastRow; y++)
                    Horizontal(row.Row(source.Top + y)[(source.Left * 3)..], temp.AsSpan((y - firstRow) * rowBytes, rowBytes), horizontal, sourceWidth);
                var scratch = temp.AsSpan((lastRow - firstRow) * rowBytes, rowBytes);
                for (var yy = 0; yy < cropHeight; yy++)
                {
                    var output = sink.Begin(yy, scratch);
                    Vertical(temp, rowBytes, vertical.First[yy] - firstRow, vertical.Count[yy],
                        vertical.Weights.AsSpan(yy * vertical.Kernel, vertical.Kernel), output);
                    sink.End(yy, output);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(temp);
            }
        }
        finally
        {
            horizontal.Return();
            vertical.Return();
        }
    }

    /// <summary>The output rows packed into one buffer.</summary>
    private readonly ref struct PackedRows(Span<byte> destination, int rowBytes) : IRowSink
    {
        private readonly Span<byte> _destination = destination;

        public Span<byte> Begin(int y, Span<byte> scratch) => _destination.Slice(y * rowBytes, rowBytes);

        public void End(int y, ReadOnlySpan<byte> row) { }
    }

    /// <summary>Pillow's precompute_coeffs and normalize_coeffs_8bpc for an inSize to outSize pass, for the output
    /// indices from <paramref name="start"/> on, <paramref name="count"/> of them.</summary>
    private static Coefficients Precompute(int inSize, int outSize, int start, int count)
    {
        var scale = (double)inSize / outSize;
        var filterScale = Math.Max(scale, 1.0);
        var support = 1.0 * filterScale; // the triangle's support is 1
        var kernel = (int)Math.Ceiling(support) * 2 + 1;
        var c = new Coefficients
        {
            Kernel = kernel,
            Weights = ArrayPool<int>.Shared.Rent(count * kernel),
            First = ArrayPool<int>.Shared.Rent(count),
            Count = ArrayPool<int>.Shared.Rent(count),
        };
        Span<double> k = kernel <= 256 ? stackalloc double[kernel] : new double[kernel];
        var ss = 1.0 / filterScale;
        for (var i = 0; i < count; i++)
        {
            var center = (start + i + 0.5) * scale;
            var xmin = Math.Max((int)(center - support + 0.5), 0);
            var xmax = Math.Min((int)(center + support + 0.5), inSize) - xmin;
            double ww = 0;
            for (var x = 0; x < xmax; x++)
            {
                var w = Triangle((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            var weights = c.Weights.AsSpan(i * kernel, kernel);
            for (var x = 0; x < kernel; x++)
            {
                var w = x < xmax ? (ww != 0 ? k[x] / ww : k[x]) : 0;
                weights[x] = (int)(w < 0 ? -0.5 + w * (1 << PrecisionBits) : 0.5 + w * (1 << PrecisionBits));
            }
            c.First[i] = xmin;
            c.Count[i] = xmax;
        }
        return c;
    }

    private static double Triangle(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clip8(int v) => (byte)Math.Clamp(v >> PrecisionBits, 0, 255);

    private static void Horizontal(ReadOnlySpan<byte> source, Span<byte> output, in Coefficients c, int sourceWidth)
    {
        // The loop below reads through unchecked references: the row must hold the pixels the weights name. It reads
        // past a pixel only into the next one of the window (the window's last pixel is read alone), so a window that
        // is a slice of a wider row is never overrun.
        if (source.Length < sourceWidth * 3)
            throw new ArgumentException($"a source row of {source.Length} bytes, {sourceWidth} pixels expected", nameof(source));
        ref var src = ref MemoryMarshal.GetReference(source);
        ref var dst = ref MemoryMarshal.GetReference(output);
        ref var weight0 = ref MemoryMarshal.GetArrayDataReference(c.Weights);
        var half = Vector128.Create(Half, Half, Half, 0);
        var max = Vector128.Create(255);
        var pixels = output.Length / 3;
        for (var xx = 0; xx < pixels; xx++)
        {
            var first = c.First[xx];
            var taps = c.Count[xx];
            ref var weights = ref Unsafe.Add(ref weight0, xx * c.Kernel);
            // Each tap loads 4 bytes (R, G, B and the next pixel's R): the source row's last pixel is added alone.
            var vectorTaps = first + taps == sourceWidth ? taps - 1 : taps;
            ref var p = ref Unsafe.Add(ref src, first * 3);
            var acc = half;
            for (var x = 0; x < vectorTaps; x++)
            {
                var pixel = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p, x * 3))).AsByte();
                acc += Vector128.WidenLower(Vector128.WidenLower(pixel)).AsInt32() * Unsafe.Add(ref weights, x);
            }
            if (vectorTaps < taps)
            {
                ref var last = ref Unsafe.Add(ref p, vectorTaps * 3);
                acc += Vector128.Create(last, Unsafe.Add(ref last, 1), Unsafe.Add(ref last, 2), 0) * Unsafe.Add(ref weights, vectorTaps);
            }
            var v = Vector128.Clamp(Vector128.ShiftRightArithmetic(acc, PrecisionBits), Vector128<int>.Zero, max);
            ref var o = ref Unsafe.Add(ref dst, xx * 3);
            o = (byte)v.GetElement(0);
            Unsafe.Add(ref o, 1) = (byte)v.GetElement(1);
            Unsafe.Add(ref o, 2) = (byte)v.GetElement(2);
        }
    }

    private static void Vertical(byte[] temp, int rowBytes, int firstRow, int taps, ReadOnlySpan<int> weights, Span<byte> output)
    {
        var i = Vertical32(temp, rowBytes, firstRow, taps, weights, output);
        var half = Vector128.Create(Half);
        // 16 bytes at a time: four lanes of 32-bit sums each, exactly the scalar arithmetic.
        for (; i + 16 <= rowBytes; i += 16)
        {
            Vector128<int> a0 = half, a1 = half, a2 = half, a3 = half;
            for (var y = 0; y < taps; y++)
            {
                var bytes = Vector128.Create(temp, (firstRow + y) * rowBytes + i);
                var w = Vector128.Create(weights[y]);
                var (lo, hi) = Vector128.Widen(bytes);
                var (l0, l1) = Vector128.Widen(lo);
                var (h0, h1) = Vector128.Widen(hi);
                a0 += l0.AsInt32() * w;
                a1 += l1.AsInt32() * w;
                a2 += h0.AsInt32() * w;
                a3 += h1.AsInt32() * w;
            }
            var max = Vector128.Create(255);
            a0 = Vector128.Clamp(Vector128.ShiftRightArithmetic(a0, PrecisionBits), Vector128<int>.Zero, max);
            a1 = Vector128.Clamp(Vector128.ShiftRightArithmetic(a1, PrecisionBits), Vector128<int>.Zero, max);
            a2 = Vector128.Clamp(Vector128.ShiftRightArithmetic(a2, PrecisionBits), Vector128<int>.Zero, max);
            a3 = Vector128.Clamp(Vector128.ShiftRightArithmetic(a3, PrecisionBits), Vector128<int>.Zero, max);
            var packed = Vector128.Narrow(Vector128.Narrow(a0.AsUInt32(), a1.AsUInt32()), Vector128.Narrow(a2.AsUInt32(), a3.AsUInt32()));
            packed.CopyTo(output[i..]);
        }
        for (; i < rowBytes; i++)
        {
            var sum = Half;
            for (var y = 0; y < taps; y++)
                sum += temp[(firstRow + y) * rowBytes + i] * weights[y];
            output[i] = Clip8(sum);
        }
    }
}

/// <summary>The part of a source image that is resized: Pillow's crop box (Left, Top, Left + Width, Top + Height).</summary>
internal readonly record struct SourceWindow(int Left, int Top, int Width, int Height);

/// <summary>The rows of a source image, RGB 3 bytes a pixel.</summary>
internal interface IRowSource
{
    ReadOnlySpan<byte> Row(int y);
}

/// <summary>Where the resize's output rows go, one at a time, top to bottom: <c>Begin</c> gives the span row y is
/// written into (its own, or the scratch row it is offered), <c>End</c> hands that row back once it is complete.</summary>
internal interface IRowSink
{
    Span<byte> Begin(int y, Span<byte> scratch);

    void End(int y, ReadOnlySpan<byte> row);
}
