using Classify.Models;

namespace Classify.Inference;

/// <summary>
/// An inference engine bound to one model on one device. It takes a batch of N &gt;= 1 preprocessed images
/// so that batching on a GPU is a change inside a backend, not in its callers.
/// </summary>
public interface IClassifierBackend : IDisposable
{
    /// <summary>"onnx" or "torch".</summary>
    string Name { get; }

    /// <summary>What actually runs the model, e.g. "cpu" or "cuda:0" (checked, not assumed).</summary>
    string Device { get; }

    /// <summary>Runs <paramref name="input"/> and writes <c>input.Count * Output.Classes</c> raw model outputs
    /// (probabilities or logits, as the manifest says) into <paramref name="output"/>.</summary>
    void Run(InputBatch input, Span<float> output);
}

/// <summary>Creates a backend for a model; the CLI holds one per backend name.</summary>
public interface IBackendFactory
{
    string Name { get; }

    /// <summary>The manifest's key of the model file this backend runs ("onnx", "torchscript").</summary>
    string FileFormat { get; }

    IClassifierBackend Create(ModelManifest manifest, BackendOptions options);
}

public enum DeviceRequest { Auto, Cuda, Cpu }

public sealed record BackendOptions
{
    public DeviceRequest Device { get; init; } = DeviceRequest.Auto;
    public int GpuIndex { get; init; }
    public int IntraOpThreads { get; init; }

    /// <summary>CUDA only: run the model in half precision (TorchSharp backend).</summary>
    public bool Half { get; init; }

    /// <summary>CUDA only: NHWC / channels_last memory format where the engine supports it.</summary>
    public bool ChannelsLast { get; init; }

    /// <summary>--require-gpu: no GPU is an error (exit 20), not a fallback to the CPU.</summary>
    public bool RequireGpu { get; init; }

    /// <summary>--verbose: say which device was chosen and why, even on a machine without a GPU.</summary>
    public bool Verbose { get; init; }

    /// <summary>Where a backend writes its one-line warnings and --verbose notes (standard error in the CLI).</summary>
    public Action<string>? Log { get; init; }
}
