using Classify.Inference;
using Classify.Models;

namespace Classify.Pipeline;

/// <summary>One batch's buffers, reused batch after batch: the input tensor, the model's output, per-image errors.</summary>
internal sealed class BatchSlot(InputSpec input, int classes, int capacity)
{
    private int _remaining;

    public InputBatch Batch { get; } = new(input, capacity);
    public float[] Output { get; } = new float[capacity * classes];
    public ClassifyException?[] Errors { get; } = new ClassifyException?[capacity];
    public ManualResetEventSlim Decoded { get; } = new();
    public int First { get; private set; }
    /// <summary>The device that ran this batch.</summary>
    public string? Device { get; set; }
    public int Ok;

    public void Start(int first, int count)
    {
        First = first;
        Batch.Count = count;
        Ok = 0;
        Array.Clear(Errors);
        Decoded.Reset();
        _remaining = count;
    }

    public void ImageDone()
    {
        if (Interlocked.Decrement(ref _remaining) == 0)
            Decoded.Set();
    }
}
