using Classify.Models;

namespace Classify.Inference;

/// <summary>
/// A batch of preprocessed images laid out exactly as the model's input tensor, for up to
/// <see cref="Capacity"/> images. Reused across batches so the hot loop allocates nothing.
/// </summary>
public sealed class InputBatch
{
    public InputBatch(InputSpec spec, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Spec = spec;
        Capacity = capacity;
        ImageLength = 3 * spec.Width * spec.Height;
        if (spec.ElementType == TensorElementKind.Float32)
            Floats = new float[capacity * ImageLength];
        else
            Bytes = new byte[capacity * ImageLength];
    }

    public InputSpec Spec { get; }
    public int Capacity { get; }

    /// <summary>Number of images filled in so far.</summary>
    public int Count { get; set; }

    /// <summary>Elements per image (3 x Height x Width).</summary>
    public int ImageLength { get; }

    /// <summary>The buffer when the model takes float32 input, else null.</summary>
    public float[]? Floats { get; }

    /// <summary>The buffer when the model takes uint8 input, else null.</summary>
    public byte[]? Bytes { get; }

    /// <summary>The tensor shape of the first <paramref name="count"/> images, in the model's layout.</summary>
    public long[] Shape(int count) => ShapeOf(Spec, count);

    /// <summary>The input tensor shape of <paramref name="count"/> images of <paramref name="spec"/>, in its layout.</summary>
    public static long[] ShapeOf(InputSpec spec, int count) => spec.Layout == TensorLayout.Nchw
        ? [count, 3, spec.Height, spec.Width]
        : [count, spec.Height, spec.Width, 3];
}
