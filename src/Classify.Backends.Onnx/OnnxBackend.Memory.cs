namespace Classify.Backends.Onnx;

/// <summary>Memory that runs out inside ONNX Runtime, told from its other failures: a batch that does not fit is exit 18
/// with "lower --batch_size" (<see cref="Classify.Inference.BatchOutOfMemoryException"/>), not an internal error.</summary>
public sealed partial class OnnxBackend
{
    /// <summary>What ONNX Runtime's error says could not be allocated, or null where it is another failure: its arena's
    /// "Failed to allocate memory for requested buffer of size N" (the CPU's under ulimit -v, or CUDA's), C++'s
    /// std::bad_alloc, the CUDA provider's "out of memory" (CUDA_CALL's cudaErrorMemoryAllocation) or cuDNN's and
    /// cuBLAS's ALLOC_FAILED.</summary>
    internal static string? AllocationFailure(string message)
    {
        if (ArenaRequest().Match(message) is { Success: true } arena && long.TryParse(arena.Groups[1].ValueSpan, out var bytes))
            return $"ONNX Runtime could not allocate {Math.Max(1, bytes >> 20)} MiB";
        return message.Contains("Failed to allocate memory", StringComparison.Ordinal) || message.Contains("std::bad_alloc", StringComparison.Ordinal)
            || message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || message.Contains("_ALLOC_FAILED", StringComparison.Ordinal)
            ? "ONNX Runtime could not allocate memory"
            : null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"Failed to allocate memory for requested buffer of size (\d+)")]
    private static partial System.Text.RegularExpressions.Regex ArenaRequest();
}
