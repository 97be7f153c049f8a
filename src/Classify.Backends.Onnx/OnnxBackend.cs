using Classify.Gpu;
using Classify.Inference;
using Classify.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Classify.Backends.Onnx;

public sealed class OnnxBackendFactory : IBackendFactory, IGpuBackendFactory
{
    public GpuRequirements GpuRequirements => GpuRequirements.OnnxRuntime;

    public string Name => "onnx";
    public string FileFormat => "onnx";

    public IClassifierBackend Create(ModelManifest manifest, BackendOptions options) => OnnxBackend.Create(manifest, options);

    /// <summary>Starts loading ONNX Runtime in the background (see <see cref="OnnxRuntimeLog.Preload"/>).</summary>
    public static Task Preload() => OnnxRuntimeLog.Preload();

    /// <summary>The version of the ONNX Runtime package classify was built with (read without starting it).</summary>
    public static string RuntimeVersion => typeof(Microsoft.ML.OnnxRuntime.OrtEnv).Assembly.GetName().Version?.ToString(3) ?? "unknown";
}

/// <summary>
/// ONNX Runtime on one model. Input and output tensors are views over the caller's buffers (no copies);
/// models whose batch dimension is fixed run image by image inside <see cref="Run"/>.
/// </summary>
public sealed partial class OnnxBackend : IClassifierBackend, IPreprocessingProbe
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly ModelManifest _manifest;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    // The largest batch the model takes in one call: the input's batch dimension, or any number when it is free.
    private readonly int _maxBatch;
    // The output's shape with the batch dimension left to fill in; read once, not per image.
    private readonly long[] _outputShape;
    // --features: the manifest's features output, its shape (batch left to fill in) and width, and whether it is float16.
    private readonly string? _featuresName;
    private readonly long[] _featuresShape = [];
    private readonly bool _featuresHalf;
    private Half[] _halfFeatures = [];
    private readonly DevicePreprocessing? _pixels;
    private readonly OnnxRuntimeLog.Listener _log;

    private OnnxBackend(InferenceSession session, ModelManifest manifest, ComputeDevice device, int maxBatch, DevicePreprocessing? pixels,
        OnnxRuntimeLog.Listener log, bool features)
    {
        _log = log;
        _session = session;
        _manifest = manifest;
        Device = device;
        _maxBatch = maxBatch;
        _pixels = pixels;
        Input = pixels is null ? manifest.Input : manifest.Input.AsPixels();
        _inputNames = [manifest.Input.Name];
        _outputNames = [manifest.Output.Name];
        _outputShape = session.OutputMetadata[manifest.Output.Name].Dimensions.Select(d => (long)Math.Max(d, 1)).ToArray();
        if (features)
        {
            _featuresName = manifest.Output.Features!;
            var meta = session.OutputMetadata[_featuresName];
            _featuresShape = meta.Dimensions.Select(d => (long)Math.Max(d, 1)).ToArray();
            _featuresHalf = meta.ElementDataType == TensorElementType.Float16;
            FeatureWidth = (int)_featuresShape.Skip(1).Aggregate(1L, (a, d) => a * d);
        }
    }

    public int FeatureWidth { get; }

    public string Name => "onnx";
    public ComputeDevice Device { get; }
    public InputSpec Input { get; }

    public static OnnxBackend Create(ModelManifest manifest, BackendOptions options)
    {
        var path = ModelCatalog.VerifiedFile(manifest, options.ModelFile ?? (options.Half ? ModelFormats.Fp16("onnx") : "onnx"));
        var log = OnnxRuntimeLog.Listen(options);
        var gpu = new GpuDevicePolicy(options, GpuRequirements.OnnxRuntime);
        InferenceSession? session = null;
        var device = ComputeDevice.Cpu;
        try
        {
            if (gpu.ShouldTryCuda())
            {
                var cuda = CudaSession.TryCreate(path, manifest, options, log);
                if (cuda.Session is null)
                {
                    gpu.CudaFailed(cuda.Failure!);
                }
                else
                {
                    (session, device) = (cuda.Session, cuda.Device);
                    if (options.Verbose) options.Log?.Invoke($"onnxruntime: {cuda.Placement}");
                }
            }
            session ??= CreateOnCpu(path, options, log);
        }
        catch
        {
            log.Dispose();
            throw;
        }
        try
        {
            // As TorchSharp does: a run that asked for half precision or NHWC and landed on the CPU says so and
            // stops, rather than run something else than asked for.
            if (!device.IsCuda && (options.Half || options.ChannelsLast))
                throw new ClassifyException(ExitCode.Usage, null,
                    "--fp16 and --channels_last apply to CUDA only, and this run is on the CPU (no usable GPU, or --device cpu)");
            gpu.Chose(device);
            var maxBatch = CheckSignature(session, manifest, path);
            if (options.Features) CheckFeatures(session, manifest, path);
            return new OnnxBackend(session, manifest, device, maxBatch, PixelsOnDevice(manifest, options, device, log), log, options.Features);
        }
        catch
        {
            session.Dispose();
            log.Dispose();
            throw;
        }
    }

    /// <summary>The preprocessing graph on the model's device where the run preprocesses there (on CUDA: a float32 model,
    /// unless CLASSIFY_GPU_PREPROCESS=off). A CUDA provider that cannot take it leaves the preprocessing on the CPU.</summary>
    private static DevicePreprocessing? PixelsOnDevice(ModelManifest manifest, BackendOptions options, ComputeDevice device, OnnxRuntimeLog.Listener log)
    {
        var cuda = device.IsCuda;
        if (!options.PreprocessesOnDevice(cuda, manifest.Input))
            return null;
        if (!cuda)
        {
            using var cpu = BaseOptions(options, log);
            return new DevicePreprocessing(manifest.Input, cpu, OrtMemoryInfo.DefaultInstance);
        }
        try
        {
            using var so = CudaSession.Options(options, strict: true, log);
            return new DevicePreprocessing(manifest.Input, so, DevicePreprocessing.CudaMemory(options.GpuIndex));
        }
        catch (OnnxRuntimeException e)
        {
            options.Log?.Invoke($"onnxruntime: preprocessing stays on the CPU: the CUDA provider did not take its graph ({e.Message.Split('\n')[0]})");
            return null;
        }
    }

    /// <summary>
    /// `classify doctor`'s proof: creates a CUDA session for <paramref name="manifest"/>'s model on GPU
    /// <paramref name="gpuIndex"/>. Returns the device and where the nodes run, or ORT's failure verbatim.
    /// </summary>
    public static (ComputeDevice Device, string? Placement, string? Failure) CheckCuda(ModelManifest manifest, int gpuIndex)
    {
        var path = ModelCatalog.VerifiedFile(manifest, "onnx");
        var options = new BackendOptions { Device = DeviceRequest.Cuda, GpuIndex = gpuIndex };
        using var log = OnnxRuntimeLog.Listen(options);
        var r = CudaSession.TryCreate(path, manifest, options, log);
        if (r.Session is null)
            return (r.Device, r.Placement, r.Failure);
        // "Usable" means a kernel ran: cuDNN is opened, and its workspace found, only on the first run.
        try
        {
            Placement.RunOnce(r.Session, manifest);
            return (r.Device, r.Placement, null);
        }
        catch (OnnxRuntimeException e)
        {
            return (ComputeDevice.Cpu, null, $"the session was created on {r.Device}, but its first run failed: {e.Message.Split('\n')[0]}");
        }
        finally
        {
            r.Session.Dispose();
        }
    }

    private static InferenceSession CreateOnCpu(string path, BackendOptions options, OnnxRuntimeLog.Listener log)
    {
        var sessionOptions = BaseOptions(options, log);
        try
        {
            return new InferenceSession(path, sessionOptions);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ClassifyException(ExitCode.ModelCorrupt, path, $"ONNX Runtime cannot load the model: {e.Message}", e);
        }
        finally
        {
            sessionOptions.Dispose();
        }
    }

    /// <summary>What CPU and CUDA sessions share; CudaSession adds the CUDA provider.</summary>
    internal static SessionOptions BaseOptions(BackendOptions options, OnnxRuntimeLog.Listener log)
    {
        var so = log.Apply(new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL });
        if (options.IntraOpThreads > 0) so.IntraOpNumThreads = options.IntraOpThreads;
        // ONNX Runtime's intra-op workers spin between runs by default, on the cores the decode workers need (issue 30):
        // with a model that costs nothing and --threads 2, ONNX Runtime took 36% of the process's CPU (2.7% at one
        // thread), 1 ms of CPU per image. Waiting workers block instead; the same results (README, Benchmarks).
        so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return so;
    }

    public void Run(InputBatch input, Span<float> output, CancellationToken cancel = default) => Run(input, output, default, cancel);

    /// <summary>Runs the batch; <paramref name="cancel"/> sets <c>RunOptions.Terminate</c>, which ONNX Runtime reads
    /// before each kernel, so a cancelled run ends within one kernel with an <see cref="OperationCanceledException"/>
    /// (a token cancelled before the call stops the run at its first kernel). One run at a time: the run options
    /// are the backend's, and Terminate is cleared again for the next run.</summary>
    public void Run(InputBatch input, Span<float> output, Span<float> features, CancellationToken cancel = default)
    {
        var classes = _manifest.Output.Classes;
        var count = input.Count;
        var width = features.IsEmpty ? 0 : FeatureWidth;
        if (output.Length < count * classes)
            throw new ArgumentException("output buffer too small", nameof(output));
        if (!features.IsEmpty && (_featuresName is null || features.Length < count * width))
            throw new ArgumentException(_featuresName is null ? "features were not asked for (BackendOptions.Features)" : "features buffer too small", nameof(features));
        var terminate = cancel.CanBeCanceled ? cancel.UnsafeRegister(static o => ((RunOptions)o!).Terminate = true, _runOptions) : default;
        try
        {
            for (var start = 0; start < count; start += _maxBatch)
            {
                var n = Math.Min(_maxBatch, count - start);
                try
                {
                    RunSlice(input, start, n, output.Slice(start * classes, n * classes), width == 0 ? default : features.Slice(start * width, n * width));
                }
                catch (OnnxRuntimeException e) when (!cancel.IsCancellationRequested && AllocationFailure(e.Message) is { } what)
                {
                    throw new BatchOutOfMemoryException(what, n, Device, e);
                }
            }
        }
        catch (OnnxRuntimeException e) when (cancel.IsCancellationRequested)
        {
            throw new OperationCanceledException("the model's run was terminated", e, cancel);
        }
        finally
        {
            // Dispose waits for a callback in flight, so no Terminate set for this run can reach the next one.
            terminate.Dispose();
            if (cancel.IsCancellationRequested) _runOptions.Terminate = false;
        }
        cancel.ThrowIfCancellationRequested();
    }

    /// <summary>Runs images [start, start + n) through an IOBinding over the caller's buffers: ONNX Runtime reads the
    /// input and writes the output in place, on the CPU without a copy; on CUDA it copies them to and from the device
    /// in the run (the input stays in managed memory: pinned CUDA buffers are not done, see README, GPU).</summary>
    private unsafe void RunSlice(InputBatch input, int start, int n, Span<float> output, Span<float> features)
    {
        var length = (long)n * input.ImageLength;
        var outputShape = (long[])_outputShape.Clone();
        outputShape[0] = n;
        var featuresShape = (long[])_featuresShape.Clone();
        if (!features.IsEmpty) featuresShape[0] = n;
        // A float16 embedding (an fp16 model's) lands in a reused buffer and is widened into the caller's floats.
        if (_featuresHalf && _halfFeatures.Length < features.Length) _halfFeatures = new Half[features.Length];
        fixed (float* outPtr = output)
        fixed (float* featuresPtr = features)
        fixed (Half* halfPtr = _halfFeatures)
        fixed (float* floatPtr = input.Floats is { } f ? f.AsSpan(start * input.ImageLength) : default)
        fixed (byte* bytePtr = input.Bytes is { } b ? b.AsSpan(start * input.ImageLength) : default)
        {
            using var outValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float,
                outputShape, (IntPtr)outPtr, output.Length * sizeof(float));
            using var inValue = floatPtr is not null
                ? OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, input.Shape(n), (IntPtr)floatPtr, length * sizeof(float))
                : OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.UInt8, input.Shape(n), (IntPtr)bytePtr, length);
            using var featuresValue = features.IsEmpty ? null : _featuresHalf
                ? OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float16, featuresShape, (IntPtr)halfPtr, features.Length * sizeof(Half))
                : OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, featuresShape, (IntPtr)featuresPtr, features.Length * sizeof(float));
            var featuresName = featuresValue is null ? null : _featuresName;
            if (_pixels is not null)
            {
                _pixels.Run(_session, _runOptions, _inputNames[0], inValue, _outputNames[0], outValue, featuresName, featuresValue);
            }
            else
            {
                using var binding = _session.CreateIoBinding();
                binding.BindInput(_inputNames[0], inValue);
                binding.SynchronizeBoundInputs();
                binding.BindOutput(_outputNames[0], outValue);
                if (featuresName is not null) binding.BindOutput(featuresName, featuresValue!);
                _session.RunWithBinding(_runOptions, binding);
            }
        }
        if (_featuresHalf && !features.IsEmpty)
            for (var i = 0; i < features.Length; i++) features[i] = (float)_halfFeatures[i];
    }

    /// <summary>What the device's preprocessing graph makes of a batch of pixels (FailSafeBackend's check); the
    /// manifest's input where preprocessing is not on the device.</summary>
    public unsafe void Preprocess(InputBatch pixels, Span<float> tensor)
    {
        if (_pixels is null || pixels.Bytes is not { } bytes)
            throw new InvalidOperationException("this backend does not preprocess on its device");
        var n = pixels.Count;
        fixed (byte* p = bytes)
        fixed (float* t = tensor)
        {
            using var inValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.UInt8,
                pixels.Shape(n), (IntPtr)p, (long)n * pixels.ImageLength);
            using var outValue = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float,
                InputBatch.ShapeOf(_manifest.Input, n), (IntPtr)t, (long)n * pixels.ImageLength * sizeof(float));
            _pixels.Preprocess(_runOptions, inValue, outValue);
        }
    }

    public void Dispose()
    {
        _pixels?.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
        _log.Dispose();
    }
}
