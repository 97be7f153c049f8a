using Classify.Inference;
using Classify.Models;

namespace Classify.Pipeline;

/// <summary>
/// One batch's buffers, reused batch after batch: the input tensor, the model's output, per-image errors. A slot goes
/// round the pipeline: handed out by the dispatcher (<see cref="Start"/>), filled image by image by the decoders, each
/// image ending with <see cref="ImageDone"/> (the last one hands the slot on), run by the model, emitted, and free again.
/// </summary>
internal sealed class BatchSlot(InputSpec input, int classes, int capacity, int featureWidth = 0)
{
    private int _remaining, _ok;

    public InputBatch Batch { get; } = new(input, capacity);
    public float[] Output { get; } = new float[capacity * classes];

    /// <summary>--features: the model's embeddings of the batch, <c>featureWidth</c> per image (empty without).</summary>
    public float[] Features { get; } = new float[capacity * featureWidth];
    public ClassifyException?[] Errors { get; } = new ClassifyException?[capacity];

    /// <summary>The batch's number in the run (0-based).</summary>
    public int Number { get; private set; }

    /// <summary>The index of the batch's first image in the run's inputs.</summary>
    public int First { get; private set; }

    public int Count => Batch.Count;

    /// <summary>Whether any image of the batch was decoded (a batch of failures is not run).</summary>
    public bool AnyOk => Volatile.Read(ref _ok) > 0;

    public void Start(int number, int first, int count)
    {
        Number = number;
        First = first;
        Batch.Count = count;
        _ok = 0;
        Array.Clear(Errors);
        _remaining = count;
    }

    /// <summary>Image <paramref name="i"/> failed: its error, and zeros for the model (a failed image still goes
    /// through the model with its batch; zeros keep that harmless).</summary>
    public void Fail(int i, ClassifyException error)
    {
        Errors[i] = error;
        if (Batch.Floats is { } f) Array.Clear(f, i * Batch.ImageLength, Batch.ImageLength);
        else Array.Clear(Batch.Bytes!, i * Batch.ImageLength, Batch.ImageLength);
    }

    /// <summary>One image is done, decoded (<paramref name="ok"/>) or failed; true for the batch's last one.</summary>
    public bool ImageDone(bool ok)
    {
        if (ok) Interlocked.Increment(ref _ok);
        return Interlocked.Decrement(ref _remaining) == 0;
    }
}
