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

    /// <summary>What actually runs the model, the CPU or CUDA device N (checked, not assumed).</summary>
    ComputeDevice Device { get; }

    /// <summary>What the batches <see cref="Run"/> takes hold: the manifest's input, or, for a backend that casts,
    /// normalises and lays out on its device (TorchSharp on CUDA), the resized pixels (<see cref="InputSpec.AsPixels"/>),
    /// a quarter of the float32 bytes to upload.</summary>
    InputSpec Input { get; }

    /// <summary>Runs <paramref name="input"/> and writes <c>input.Count * Output.Classes</c> raw model outputs
    /// (probabilities or logits, as the manifest says) into <paramref name="output"/>.</summary>
    /// <remarks>A <paramref name="cancel"/> that fires ends the run as soon as the engine allows (ONNX Runtime between
    /// its kernels, through <c>RunOptions.Terminate</c>; an engine that cannot stop finishes the batch) with an
    /// <see cref="OperationCanceledException"/> for that token; <paramref name="output"/> is then undefined.</remarks>
    void Run(InputBatch input, Span<float> output, CancellationToken cancel = default);

    /// <summary>Values per image of the embedding <see cref="Run(InputBatch, Span{float}, Span{float}, CancellationToken)"/>
    /// writes (the manifest's output.features, asked for with <see cref="BackendOptions.Features"/>); 0: none.</summary>
    int FeatureWidth => 0;

    /// <summary><see cref="Run(InputBatch, Span{float}, CancellationToken)"/> that also writes each image's embedding from
    /// the same run, <c>input.Count * FeatureWidth</c> float32 values (a float16 model's converted) into
    /// <paramref name="features"/>; an empty span asks for none.</summary>
    void Run(InputBatch input, Span<float> output, Span<float> features, CancellationToken cancel = default)
    {
        if (!features.IsEmpty)
            throw new NotSupportedException($"the {Name} backend writes no features");
        Run(input, output, cancel);
    }
}

/// <summary>Creates a backend for a model; the CLI holds one per backend name.</summary>
public interface IBackendFactory
{
    string Name { get; }

    /// <summary>The manifest's key of the model file this backend runs ("onnx", "torchscript").</summary>
    string FileFormat { get; }

    /// <summary>Whether the engine converts float32 weights to half precision itself (TorchSharp); one that does not
    /// (ONNX Runtime) runs a model's fp16 file for --fp16.</summary>
    bool ConvertsToHalf => false;

    IClassifierBackend Create(ModelManifest manifest, BackendOptions options);
}

public enum DeviceRequest { Auto, Cuda, Cpu }

public sealed record BackendOptions
{
    public DeviceRequest Device { get; init; } = DeviceRequest.Auto;
    public int GpuIndex { get; init; }
    public int IntraOpThreads { get; init; }

    /// <summary>CUDA only: run the model in half precision (TorchSharp converts the weights; ONNX Runtime runs the
    /// manifest's fp16 file, which <see cref="ModelFile"/> then names).</summary>
    public bool Half { get; init; }

    /// <summary>The key in the manifest's "files" of the file to run ("onnx-fp16"); null: the backend's own format.</summary>
    public string? ModelFile { get; init; }

    /// <summary>How many images the run will classify (0: unknown). A long run on CUDA can afford ONNX Runtime's
    /// exhaustive search for the fastest convolution algorithms, which a short one would spend more time on than
    /// it saves.</summary>
    public int ExpectedImages { get; init; }

    /// <summary>Upload the resized pixels and cast, normalise and lay them out on the device (<see cref="IClassifierBackend.Input"/>).
    /// null: where it pays, on CUDA for a float32 model; false: never (CLASSIFY_GPU_PREPROCESS=off); true: also on the
    /// CPU, which only a test of the arithmetic wants.</summary>
    public bool? DevicePreprocessing { get; init; }

    /// <summary>Whether a run on <paramref name="cuda"/> (or the CPU) preprocesses on the device.</summary>
    public bool PreprocessesOnDevice(bool cuda, InputSpec model) =>
        model.ElementType == TensorElementKind.Float32 && (DevicePreprocessing ?? cuda);

    /// <summary>CUDA only: NHWC / channels_last memory format where the engine supports it.</summary>
    public bool ChannelsLast { get; init; }

    /// <summary>--require-gpu: no GPU is an error (exit 20), not a fallback to the CPU.</summary>
    public bool RequireGpu { get; init; }

    /// <summary>--features: the backend also returns the manifest's output.features (<see cref="IClassifierBackend.FeatureWidth"/>).</summary>
    public bool Features { get; init; }

    /// <summary>--verbose: say which device was chosen and why, even on a machine without a GPU.</summary>
    public bool Verbose { get; init; }

    /// <summary>Where a backend writes its one-line warnings and --verbose notes (standard error in the CLI).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>The run's GPU report, probed once for the whole run (null: the backend probes this machine itself).</summary>
    public Gpu.GpuReports? GpuReports { get; init; }
}
