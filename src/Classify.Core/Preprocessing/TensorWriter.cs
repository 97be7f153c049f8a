using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Classify.Inference;
using Classify.Models;

namespace Classify.Preprocessing;

/// <summary>
/// Writes packed RGB pixels into one slot of an <see cref="InputBatch"/> in the model's channel order, layout and
/// element type, normalised. Sixteen pixels at a time: every layout is three gathers of 16 bytes out of the 48 bytes
/// of 16 pixels (a byte shuffle each, SSSE3 on x64, which the Native AOT baseline has), then for float inputs a
/// widen, convert and multiply-add with per-lane constants. The scalar loop does the rest with the same arithmetic,
/// so both give the same floats.
/// </summary>
public sealed class TensorWriter
{
    private readonly InputSpec _spec;
    private readonly int _plane;
    private readonly float[] _multiplier;
    private readonly float[] _offset;
    private readonly int[] _sourceChannel;

    // For each of the three 16-byte outputs of a 16-pixel block: the byte shuffles of the three input vectors, and
    // the multiplier and offset of each of its four float quarters.
    private readonly Vector128<byte>[,] _gather = new Vector128<byte>[3, 3];
    private readonly Vector128<float>[,] _mul = new Vector128<float>[3, 4];
    private readonly Vector128<float>[,] _add = new Vector128<float>[3, 4];
    private readonly int _groupStride, _blockStride;

    public TensorWriter(InputSpec spec)
    {
        _spec = spec;
        _plane = spec.Width * spec.Height;
        _multiplier = spec.Multipliers();
        _offset = spec.Offsets();
        _sourceChannel = spec.SourceChannels();
        var nchw = spec.Layout == TensorLayout.Nchw;
        (_groupStride, _blockStride) = nchw ? (_plane, 16) : (16, 48);
        Span<byte> index = stackalloc byte[16];
        Span<float> mul = stackalloc float[16], add = stackalloc float[16];
        Span<byte> mask = stackalloc byte[16];
        for (var g = 0; g < 3; g++)
        {
            for (var lane = 0; lane < 16; lane++)
            {
                // Output lane `lane` of group g holds channel c of pixel p of the block.
                var (p, c) = nchw ? (lane, g) : ((16 * g + lane) / 3, (16 * g + lane) % 3);
                index[lane] = (byte)(3 * p + _sourceChannel[c]);
                mul[lane] = _multiplier[c];
                add[lane] = _offset[c];
            }
            for (var v = 0; v < 3; v++)
            {
                for (var lane = 0; lane < 16; lane++)
                    mask[lane] = index[lane] / 16 == v ? (byte)(index[lane] % 16) : (byte)0xFF; // out of range: 0
                _gather[g, v] = Vector128.Create((ReadOnlySpan<byte>)mask);
            }
            for (var q = 0; q < 4; q++)
            {
                _mul[g, q] = Vector128.Create((ReadOnlySpan<float>)mul.Slice(4 * q, 4));
                _add[g, q] = Vector128.Create((ReadOnlySpan<float>)add.Slice(4 * q, 4));
            }
        }
    }

    public void Write(ReadOnlySpan<byte> rgb, InputBatch batch, int slot)
    {
        if (rgb.Length != 3 * _plane)
            throw new ArgumentException($"{rgb.Length} bytes of pixels, the model takes {_spec.Width}x{_spec.Height}x3");
        WritePixels(rgb, batch, slot, 0);
    }

    /// <summary>Writes row <paramref name="y"/> of the model's input (Width packed RGB pixels) into slot
    /// <paramref name="slot"/>: what <see cref="Write"/> writes for those pixels, value for value, so that the resize
    /// can hand over each row as it is made instead of a whole image.</summary>
    public void WriteRow(ReadOnlySpan<byte> rgb, InputBatch batch, int slot, int y)
    {
        if (rgb.Length != 3 * _spec.Width || (uint)y >= (uint)_spec.Height)
            throw new ArgumentException($"row {y} of {rgb.Length} bytes, the model takes {_spec.Height} rows of {_spec.Width}x3");
        WritePixels(rgb, batch, slot, y * _spec.Width);
    }

    /// <summary>Pixels <paramref name="first"/> on (as many as <paramref name="rgb"/> holds) of one image.</summary>
    private void WritePixels(ReadOnlySpan<byte> rgb, InputBatch batch, int slot, int first)
    {
        var start = slot * batch.ImageLength;
        var pixels = rgb.Length / 3;
        var blocks = Vector128.IsHardwareAccelerated ? pixels / 16 : 0;
        // Where the block's groups start: NCHW, at pixel `first` of each plane; NHWC, at value 3 * first.
        var origin = _spec.Layout == TensorLayout.Nchw ? first : 3 * first;
        if (batch.Floats is { } floats)
        {
            var dest = floats.AsSpan(start, batch.ImageLength);
            for (var b = 0; b < blocks; b++)
            {
                var (v0, v1, v2) = Load(rgb, b);
                for (var g = 0; g < 3; g++)
                {
                    var (lo, hi) = Vector128.Widen(Gather(v0, v1, v2, g));
                    var (q0, q1) = Vector128.Widen(lo);
                    var (q2, q3) = Vector128.Widen(hi);
                    var o = origin + g * _groupStride + b * _blockStride;
                    (Vector128.ConvertToSingle(q0.AsInt32()) * _mul[g, 0] + _add[g, 0]).CopyTo(dest[o..]);
                    (Vector128.ConvertToSingle(q1.AsInt32()) * _mul[g, 1] + _add[g, 1]).CopyTo(dest[(o + 4)..]);
                    (Vector128.ConvertToSingle(q2.AsInt32()) * _mul[g, 2] + _add[g, 2]).CopyTo(dest[(o + 8)..]);
                    (Vector128.ConvertToSingle(q3.AsInt32()) * _mul[g, 3] + _add[g, 3]).CopyTo(dest[(o + 12)..]);
                }
            }
            for (var p = 16 * blocks; p < pixels; p++)
                for (var c = 0; c < 3; c++)
                    dest[Index(first + p, c)] = rgb[3 * p + _sourceChannel[c]] * _multiplier[c] + _offset[c];
        }
        else
        {
            var dest = batch.Bytes.AsSpan(start, batch.ImageLength);
            for (var b = 0; b < blocks; b++)
            {
                var (v0, v1, v2) = Load(rgb, b);
                for (var g = 0; g < 3; g++)
                    Gather(v0, v1, v2, g).CopyTo(dest[(origin + g * _groupStride + b * _blockStride)..]);
            }
            for (var p = 16 * blocks; p < pixels; p++)
                for (var c = 0; c < 3; c++)
                    dest[Index(first + p, c)] = rgb[3 * p + _sourceChannel[c]];
        }
    }

    private int Index(int pixel, int channel) => _spec.Layout == TensorLayout.Nchw ? channel * _plane + pixel : 3 * pixel + channel;

    private static (Vector128<byte>, Vector128<byte>, Vector128<byte>) Load(ReadOnlySpan<byte> rgb, int block)
    {
        var s = rgb.Slice(48 * block, 48);
        return (Vector128.Create(s), Vector128.Create(s[16..]), Vector128.Create(s[32..]));
    }

    private Vector128<byte> Gather(Vector128<byte> v0, Vector128<byte> v1, Vector128<byte> v2, int group) =>
        Shuffle(v0, _gather[group, 0]) | Shuffle(v1, _gather[group, 1]) | Shuffle(v2, _gather[group, 2]);

    // The masks are not constants, so Vector128.Shuffle might not become one instruction; pshufb zeroes the lanes
    // whose index has its top bit set, exactly what Vector128.Shuffle does for an index out of range.
    private static Vector128<byte> Shuffle(Vector128<byte> v, Vector128<byte> mask) =>
        Ssse3.IsSupported ? Ssse3.Shuffle(v, mask) : Vector128.Shuffle(v, mask);
}
