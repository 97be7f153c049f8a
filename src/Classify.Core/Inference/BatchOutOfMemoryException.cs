namespace Classify.Inference;

/// <summary>
/// A backend's engine could not allocate what one batch needs: ONNX Runtime's arena on the CPU (under ulimit -v, or a
/// node short of memory), GPU memory on CUDA, libtorch's allocator. The run stops with exit 18 (ResourceExhausted) and
/// one line that says to lower --batch_size; the results before the batch are kept and a rerun resumes after them. Not a
/// device failure: <see cref="FailSafeBackend"/> does not move a run to the CPU for it (ten million images, a hundred
/// times slower, for a setting the user can change).
/// </summary>
public sealed class BatchOutOfMemoryException(string what, int batch, ComputeDevice device, Exception inner)
    : OutOfMemoryException($"{what} for a batch of {batch} on {device}", inner)
{
    /// <summary>Images in the batch that did not fit.</summary>
    public int Batch { get; } = batch;

    public ComputeDevice Device { get; } = device;
}
