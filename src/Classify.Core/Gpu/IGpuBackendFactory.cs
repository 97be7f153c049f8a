namespace Classify.Gpu;

/// <summary>A backend factory that can run on CUDA, and what it needs for that (lets --require-gpu fail before any work).</summary>
public interface IGpuBackendFactory
{
    GpuRequirements GpuRequirements { get; }
}
