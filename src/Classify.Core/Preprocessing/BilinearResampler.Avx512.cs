using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Classify.Preprocessing;

/// <summary>The horizontal pass four source rows at a time with AVX-512 (Pillow-SIMD's 4-row way): one 512-bit
/// multiply-add per tap serves the four rows' three channels. The integers are the one-row loop's.</summary>
internal static partial class BilinearResampler
{
    private static bool FourRows => Avx512BW.IsSupported;

    private static void Horizontal4(ReadOnlySpan<byte> s0, ReadOnlySpan<byte> s1, ReadOnlySpan<byte> s2, ReadOnlySpan<byte> s3,
        Span<byte> o0, Span<byte> o1, Span<byte> o2, Span<byte> o3, in Coefficients c, int sourceWidth)
    {
        // As in Horizontal: unchecked reads, never past the window (its last pixel is read alone).
        if (Math.Min(Math.Min(s0.Length, s1.Length), Math.Min(s2.Length, s3.Length)) < sourceWidth * 3)
            throw new ArgumentException($"a source row shorter than {sourceWidth} pixels");
        var pixels = o0.Length / 3;
        if (o1.Length != o0.Length || o2.Length != o0.Length || o3.Length != o0.Length)
            throw new ArgumentException("output rows of different lengths");
        ref var r0 = ref MemoryMarshal.GetReference(s0);
        ref var r1 = ref MemoryMarshal.GetReference(s1);
        ref var r2 = ref MemoryMarshal.GetReference(s2);
        ref var r3 = ref MemoryMarshal.GetReference(s3);
        ref var weight0 = ref MemoryMarshal.GetArrayDataReference(c.Weights);
        ref var first0 = ref MemoryMarshal.GetArrayDataReference(c.First);
        ref var count0 = ref MemoryMarshal.GetArrayDataReference(c.Count);
        var half = Vector512.Create(Vector128.Create(Half, Half, Half, 0));
        for (var xx = 0; xx < pixels; xx++)
        {
            var first = Unsafe.Add(ref first0, xx);
            var taps = Unsafe.Add(ref count0, xx);
            ref var weights = ref Unsafe.Add(ref weight0, xx * c.Kernel);
            // Each tap loads 4 bytes a row (R, G, B and the next pixel's R): the source row's last pixel is added alone.
            var vectorTaps = first + taps == sourceWidth ? taps - 1 : taps;
            var at = first * 3;
            var acc = half;
            for (var x = 0; x < vectorTaps; x++, at += 3)
            {
                var bytes = Vector128.Create(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref r0, at)), Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref r1, at)),
                    Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref r2, at)), Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref r3, at))).AsByte();
                acc += Avx512F.ConvertToVector512Int32(bytes) * Unsafe.Add(ref weights, x);
            }
            if (vectorTaps < taps)
                acc += Avx512F.ConvertToVector512Int32(Vector128.Create(Last(ref r0, at), Last(ref r1, at), Last(ref r2, at), Last(ref r3, at)).AsByte())
                    * Unsafe.Add(ref weights, vectorTaps);
            // The clip as two saturating packs (exactly Math.Clamp(v, 0, 255)); row k's bytes end up in 32-bit lane 4k.
            var v = Vector512.ShiftRightArithmetic(acc, PrecisionBits);
            var words = Avx512BW.PackSignedSaturate(v, v);
            var packed = Avx512BW.PackUnsignedSaturate(words, words).AsUInt32();
            var o = xx * 3;
            Store(o0, o, packed.GetElement(0), xx + 1 < pixels);
            Store(o1, o, packed.GetElement(4), xx + 1 < pixels);
            Store(o2, o, packed.GetElement(8), xx + 1 < pixels);
            Store(o3, o, packed.GetElement(12), xx + 1 < pixels);
        }
    }

    /// <summary>A row's last pixel, without the byte after it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Last(ref byte row, int at) =>
        Unsafe.Add(ref row, at) | (uint)Unsafe.Add(ref row, at + 1) << 8 | (uint)Unsafe.Add(ref row, at + 2) << 16;

    /// <summary>A pixel's 3 bytes; 4 where another pixel follows (the fourth lands on its R, written next).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Span<byte> row, int at, uint rgb, bool more)
    {
        ref var o = ref Unsafe.Add(ref MemoryMarshal.GetReference(row), at);
        if (more)
            Unsafe.WriteUnaligned(ref o, rgb);
        else
            (o, Unsafe.Add(ref o, 1), Unsafe.Add(ref o, 2)) = ((byte)rgb, (byte)(rgb >> 8), (byte)(rgb >> 16));
    }
}
