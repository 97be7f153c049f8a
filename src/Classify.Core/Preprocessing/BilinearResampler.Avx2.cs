using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Classify.Preprocessing;

/// <summary>
/// The passes with AVX2, where the machine has it. The horizontal pass two source rows at a time (Pillow-SIMD's way: the rows share the weights): one 256-bit
/// multiply-add per tap for both rows' three channels, and the per-pixel work (the tap window, the rounding, the clip,
/// the store) paid once for two rows. The vertical pass 32 bytes at a time, each 8 of them zero-extended to 32-bit lanes by
/// one load (vpmovzxbd). The integers are the 128-bit loops', so the bytes are the same.
/// </summary>
internal static partial class BilinearResampler
{
    /// <summary>Whether <see cref="Horizontal2"/> runs (AVX2); otherwise each row goes through <c>Horizontal</c>.</summary>
    private static bool TwoRows => Avx2.IsSupported;

    private static void Horizontal2(ReadOnlySpan<byte> source0, ReadOnlySpan<byte> source1, Span<byte> output0, Span<byte> output1,
        in Coefficients c, int sourceWidth)
    {
        // As in Horizontal: unchecked reads, never past the window (its last pixel is read alone).
        if (source0.Length < sourceWidth * 3 || source1.Length < sourceWidth * 3)
            throw new ArgumentException($"a source row shorter than {sourceWidth} pixels");
        if (output0.Length != output1.Length)
            throw new ArgumentException("output rows of different lengths");
        ref var src0 = ref MemoryMarshal.GetReference(source0);
        ref var src1 = ref MemoryMarshal.GetReference(source1);
        ref var dst0 = ref MemoryMarshal.GetReference(output0);
        ref var dst1 = ref MemoryMarshal.GetReference(output1);
        ref var weight0 = ref MemoryMarshal.GetArrayDataReference(c.Weights);
        ref var first0 = ref MemoryMarshal.GetArrayDataReference(c.First);
        ref var count0 = ref MemoryMarshal.GetArrayDataReference(c.Count);
        var half = Vector256.Create(Half, Half, Half, 0, Half, Half, Half, 0);
        var pixels = output0.Length / 3;
        for (var xx = 0; xx < pixels; xx++)
        {
            var first = Unsafe.Add(ref first0, xx);
            var taps = Unsafe.Add(ref count0, xx);
            ref var weights = ref Unsafe.Add(ref weight0, xx * c.Kernel);
            // Each tap loads 4 bytes a row (R, G, B and the next pixel's R): the source row's last pixel is added alone.
            var vectorTaps = first + taps == sourceWidth ? taps - 1 : taps;
            ref var p0 = ref Unsafe.Add(ref src0, first * 3);
            ref var p1 = ref Unsafe.Add(ref src1, first * 3);
            var acc = half;
            for (var x = 0; x < vectorTaps; x++)
            {
                var a = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p0, x * 3));
                var b = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref p1, x * 3));
                var bytes = Vector128.CreateScalarUnsafe(((ulong)b << 32) | a).AsByte();
                acc += Avx2.ConvertToVector256Int32(bytes) * Unsafe.Add(ref weights, x);
            }
            if (vectorTaps < taps)
            {
                ref var l0 = ref Unsafe.Add(ref p0, vectorTaps * 3);
                ref var l1 = ref Unsafe.Add(ref p1, vectorTaps * 3);
                acc += Vector256.Create(l0, Unsafe.Add(ref l0, 1), Unsafe.Add(ref l0, 2), 0, l1, Unsafe.Add(ref l1, 1), Unsafe.Add(ref l1, 2), 0)
                    * Unsafe.Add(ref weights, vectorTaps);
            }
            // The clip to 0..255 as two saturating packs (32 to signed 16 bits, then to unsigned 8: exactly
            // Math.Clamp(v, 0, 255) for every int), within each 128-bit half.
            var v = Vector256.ShiftRightArithmetic(acc, PrecisionBits);
            var words = Avx2.PackSignedSaturate(v, v);
            var packed = Avx2.PackUnsignedSaturate(words, words).AsUInt32();
            var (r0, r1) = (packed.GetElement(0), packed.GetElement(4));
            ref var o0 = ref Unsafe.Add(ref dst0, xx * 3);
            ref var o1 = ref Unsafe.Add(ref dst1, xx * 3);
            if (xx + 1 < pixels)
            {
                // 4 bytes each: the fourth lands on the next pixel's R, written next.
                Unsafe.WriteUnaligned(ref o0, r0);
                Unsafe.WriteUnaligned(ref o1, r1);
            }
            else
            {
                (o0, Unsafe.Add(ref o0, 1), Unsafe.Add(ref o0, 2)) = ((byte)r0, (byte)(r0 >> 8), (byte)(r0 >> 16));
                (o1, Unsafe.Add(ref o1, 1), Unsafe.Add(ref o1, 2)) = ((byte)r1, (byte)(r1 >> 8), (byte)(r1 >> 16));
            }
        }
    }

    /// <summary>The vertical pass over bytes [0, 32 * n) of the row, n as many as fit; returns where it stopped.</summary>
    private static unsafe int Vertical32(byte[] temp, int rowBytes, int firstRow, int taps, ReadOnlySpan<int> weights, Span<byte> output)
    {
        if (!Avx2.IsSupported || rowBytes < 32)
            return 0;
        var half = Vector256.Create(Half);
        var order = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7);
        var i = 0;
        fixed (byte* rows = &temp[firstRow * rowBytes])
        fixed (byte* dst = output)
            for (; i + 32 <= rowBytes; i += 32)
            {
                Vector256<int> a0 = half, a1 = half, a2 = half, a3 = half;
                var p = rows + i;
                for (var y = 0; y < taps; y++, p += rowBytes)
                {
                    var w = Vector256.Create(weights[y]);
                    a0 += Avx2.ConvertToVector256Int32(p) * w;
                    a1 += Avx2.ConvertToVector256Int32(p + 8) * w;
                    a2 += Avx2.ConvertToVector256Int32(p + 16) * w;
                    a3 += Avx2.ConvertToVector256Int32(p + 24) * w;
                }
                // Saturating packs are exactly the clip to 0..255; they interleave 4-byte groups across the halves,
                // which the permutation puts back in order.
                var w01 = Avx2.PackSignedSaturate(Vector256.ShiftRightArithmetic(a0, PrecisionBits), Vector256.ShiftRightArithmetic(a1, PrecisionBits));
                var w23 = Avx2.PackSignedSaturate(Vector256.ShiftRightArithmetic(a2, PrecisionBits), Vector256.ShiftRightArithmetic(a3, PrecisionBits));
                var bytes = Avx2.PermuteVar8x32(Avx2.PackUnsignedSaturate(w01, w23).AsInt32(), order).AsByte();
                bytes.Store(dst + i);
            }
        return i;
    }
}
