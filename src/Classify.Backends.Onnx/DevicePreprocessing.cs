using Classify.Models;
using Microsoft.ML.OnnxRuntime;

namespace Classify.Backends.Onnx;

/// <summary>
/// Pixels in, the model's input made on the model's device: <see cref="PreprocessGraph"/> in its own session on the
/// same execution provider, chained to the model by IOBinding, its output left in the device's memory (CUDA) and bound
/// as the model's input, so only the uint8 pixels cross PCIe.
/// </summary>
internal sealed class DevicePreprocessing : IDisposable
{
    private readonly InferenceSession _graph;
    private readonly OrtMemoryInfo _deviceMemory;

    public DevicePreprocessing(InputSpec model, SessionOptions options, OrtMemoryInfo deviceMemory)
    {
        _graph = new InferenceSession(PreprocessGraph.Build(model), options);
        _deviceMemory = deviceMemory;
    }

    public static OrtMemoryInfo CudaMemory(int gpu) =>
        new(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, gpu, OrtMemType.Default);

    /// <summary>pixels → graph → model → output, in two bound runs.</summary>
    public void Run(InferenceSession model, RunOptions run, string inputName, OrtValue pixels, string outputName, OrtValue output,
        string? featuresName = null, OrtValue? features = null)
    {
        using var pre = _graph.CreateIoBinding();
        pre.BindInput(PreprocessGraph.InputName, pixels);
        // Host memory bound as an input is copied on a stream of its own: wait for it (ORT's CUDA IOBinding test and
        // microsoft/onnxruntime#15438 do), rather than count on one thread being handed the same stream every run.
        pre.SynchronizeBoundInputs();
        pre.BindOutputToDevice(PreprocessGraph.OutputName, _deviceMemory);
        _graph.RunWithBinding(run, pre);
        using var made = pre.GetOutputValues();
        using var binding = model.CreateIoBinding();
        binding.BindInput(inputName, made[0]);
        binding.BindOutput(outputName, output);
        if (featuresName is not null) binding.BindOutput(featuresName, features!);
        model.RunWithBinding(run, binding);
    }

    /// <summary>pixels → graph, its output bound to <paramref name="tensor"/> in host memory: what the device makes of
    /// the pixels, for the check against the CPU writer.</summary>
    public void Preprocess(RunOptions run, OrtValue pixels, OrtValue tensor)
    {
        using var pre = _graph.CreateIoBinding();
        pre.BindInput(PreprocessGraph.InputName, pixels);
        pre.SynchronizeBoundInputs();
        pre.BindOutput(PreprocessGraph.OutputName, tensor);
        _graph.RunWithBinding(run, pre);
        pre.SynchronizeBoundOutputs();
    }

    public void Dispose()
    {
        _graph.Dispose();
        if (!ReferenceEquals(_deviceMemory, OrtMemoryInfo.DefaultInstance))
            _deviceMemory.Dispose();
    }
}
