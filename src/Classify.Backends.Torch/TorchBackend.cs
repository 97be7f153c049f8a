using System.Runtime.InteropServices;
using Classify.Gpu;
using Classify.Inference;
using Classify.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Classify.Backends.Torch;

/// <summary>Creates TorchSharp backends. The seams stand in for a GPU this machine lacks: <paramref name="probe"/>
/// for the shared GPU probe (default: this process's), <paramref name="cudaDeviceCount"/> for libtorch's own count
/// of CUDA devices (default: libtorch's answer).</summary>
public sealed class TorchBackendFactory(Func<GpuRequirements, GpuReport>? probe = null, Func<int>? cudaDeviceCount = null)
    : IBackendFactory, IGpuBackendFactory
{
    public string Name => "torch";
    public string FileFormat => TorchBackend.FileFormat;
    public bool ConvertsToHalf => true;
    public GpuRequirements GpuRequirements => TorchDevice.Requirements;

    public IClassifierBackend Create(ModelManifest manifest, BackendOptions options) =>
        TorchBackend.Create(manifest, options, new GpuDevicePolicy(options, TorchDevice.Requirements, probe), cudaDeviceCount ?? LibTorchNative.CudaDeviceCount);
}

/// <summary>
/// A TorchScript model (torch.jit.trace/script, saved with torch.jit.save) run through TorchSharp on the CPU or
/// one CUDA device, in inference mode, on batches of any size. fp16 and channels_last are CUDA-only options.
/// </summary>
public sealed class TorchBackend : IClassifierBackend
{
    public const string FileFormat = "torchscript";

    private readonly jit.ScriptModule _module;
    private readonly ModelManifest _manifest;
    private readonly string _path;
    private readonly torch.Device _device;
    private readonly bool _half;
    private readonly bool _channelsLast;
    // Pixels in, cast/normalise/layout on the device: the model's per-channel multiplier and offset, in its order.
    private readonly Tensor? _multiplier, _offset, _channelOrder;
    private Tensor? _host;

    private TorchBackend(jit.ScriptModule module, ModelManifest manifest, string path, torch.Device device, bool half, bool channelsLast, bool pixels)
    {
        _module = module;
        _manifest = manifest;
        _path = path;
        _device = device;
        _half = half;
        _channelsLast = channelsLast;
        Device = TorchDevice.Of(device);
        Input = pixels ? manifest.Input.AsPixels() : manifest.Input;
        if (pixels)
        {
            var spec = manifest.Input;
            // The same float32 arithmetic as the CPU's TensorWriter, one multiply and one add as two separate
            // operations: the tensor the model gets is bit for bit the same.
            _multiplier = tensor(spec.Multipliers()).to(device);
            _offset = tensor(spec.Offsets()).to(device);
            _channelOrder = tensor(spec.SourceChannels().Select(c => (long)c).ToArray()).to(device);
        }
    }

    // --features: the second result of the model's forward, [N, C] or [N, C, 1, 1]; its width is read by Probe.
    private bool _features;

    public int FeatureWidth { get; private set; }

    public string Name => "torch";
    public ComputeDevice Device { get; }
    public InputSpec Input { get; }


    internal static TorchBackend Create(ModelManifest manifest, BackendOptions options, GpuDevicePolicy gpu, Func<int> cudaDeviceCount)
    {
        var path = ModelCatalog.VerifiedFile(manifest, FileFormat);
        if (options.Features && manifest.Output.Features is null)
            throw new ClassifyException(ExitCode.ManifestInvalid, path,
                $"--features: model {manifest.Name} names no embedding (output.features in {ModelManifest.FileName}; a TorchScript model's forward then returns (scores, embedding))");
        LibTorchNative.EnsureLoaded();
        var device = TorchDevice.Resolve(options, gpu, cudaDeviceCount);
        if (options.IntraOpThreads > 0) torch.set_num_threads(options.IntraOpThreads);

        jit.ScriptModule module;
        try
        {
            module = jit.load(path, device.type, device.index);
        }
        catch (Exception e) when (e is ExternalException or ArgumentException or InvalidOperationException)
        {
            throw new ClassifyException(ExitCode.ModelCorrupt, path, $"libtorch cannot load it as a TorchScript model: {FirstLine(e.Message)}", e);
        }
        var backend = new TorchBackend(module, manifest, path, device, options.Half, options.ChannelsLast,
            options.PreprocessesOnDevice(device.type == DeviceType.CUDA, manifest.Input)) { _features = options.Features };
        try
        {
            module.eval();
            if (options.Half) module.half();
            if (options.ChannelsLast) ToChannelsLast(module);
            backend.Probe();
            return backend;
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>One forward pass on a zero image: the manifest's input must fit the model and the model's
    /// real output size must match the labels. On CUDA it also warms the kernels up before the first batch.</summary>
    private void Probe()
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var spec = Input;
        var shape = InputBatch.ShapeOf(spec, 1);
        var x = zeros(shape, spec.ElementType == TensorElementKind.Float32 ? ScalarType.Float32 : ScalarType.Byte);
        Tensor y;
        Tensor? f;
        try
        {
            (y, f) = Forward(x);
        }
        catch (ExternalException e)
        {
            throw new ClassifyException(ExitCode.ManifestInvalid, _path,
                $"the model does not run on the input its manifest describes ({spec.ElementType} [{string.Join(",", shape)}]): {FirstLine(e.Message)}", e);
        }
        Labels.CheckOutputSize(_manifest, y.numel(), _path);
        if (_features)
            FeatureWidth = f is null
                ? throw new ClassifyException(ExitCode.ManifestInvalid, _path,
                    "--features: the model's forward returns its scores alone, no embedding; a TorchScript model with an embedding returns (scores, embedding)")
                : checked((int)f.numel());
    }

    /// <summary>TorchSharp cannot interrupt a forward pass: the token is looked at before the batch starts, not during it.</summary>
    public void Run(InputBatch input, Span<float> output, CancellationToken cancel = default) => Run(input, output, default, cancel);

    public void Run(InputBatch input, Span<float> output, Span<float> features, CancellationToken cancel = default)
    {
        cancel.ThrowIfCancellationRequested();
        var n = input.Count;
        var classes = _manifest.Output.Classes;
        if (output.Length < n * classes)
            throw new ArgumentException("output buffer too small", nameof(output));
        var host = HostBuffer(input);
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        if (input.Floats is { } floats)
            MemoryMarshal.AsBytes(floats.AsSpan(0, n * input.ImageLength)).CopyTo(host.bytes);
        else
            input.Bytes.AsSpan(0, n * input.ImageLength).CopyTo(host.bytes);
        Tensor y;
        Tensor? f;
        try
        {
            (y, f) = Forward(host.narrow(0, 0, (long)n * input.ImageLength).view(input.Shape(n)));
        }
        catch (ExternalException e) when (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
            || e.Message.Contains("DefaultCPUAllocator: can't allocate memory", StringComparison.Ordinal))
        {
            // CUDA's caching allocator ("CUDA out of memory. Tried to allocate ...") or the CPU's: exit 18, lower --batch_size.
            throw new BatchOutOfMemoryException($"libtorch could not allocate memory ({FirstLine(e.Message)})", n, Device, e);
        }
        catch (ExternalException e)
        {
            throw new ClassifyException(ExitCode.InternalError, _path, $"libtorch failed on a batch of {n} on {Device}: {FirstLine(e.Message)}", e);
        }
        if (y.numel() != (long)n * classes)
            throw new ClassifyException(ExitCode.LabelsMismatch, _path,
                $"the model returned {y.numel()} values for {n} image(s), {classes} per image expected");
        MemoryMarshal.Cast<byte, float>(y.bytes).CopyTo(output);
        if (!features.IsEmpty)
        {
            if (f is null || f.numel() != (long)n * FeatureWidth)
                throw new ClassifyException(ExitCode.ManifestInvalid, _path, $"--features: the model returned {f?.numel() ?? 0} embedding values for {n} image(s), {FeatureWidth} per image expected");
            MemoryMarshal.Cast<byte, float>(f.bytes).CopyTo(features);
        }
    }

    /// <summary>model(x) on the model's device and precision; the scores (and, with --features, the embedding: a forward
    /// that returns a pair) come back as float32 on the CPU.</summary>
    private (Tensor Scores, Tensor? Features) Forward(Tensor x)
    {
        x = x.to(_device, non_blocking: _device.type == DeviceType.CUDA);
        if (_multiplier is not null)
            x = FromPixels(x);
        else if (_channelsLast)
            x = ToChannelsLast(x);
        if (_half && x.dtype == ScalarType.Float32) x = x.half();
        var (scores, features) = _module.call(x) switch
        {
            Tensor t => (t, null),
            ValueTuple<Tensor, Tensor> pair => (pair.Item1, _features ? pair.Item2 : null),
            _ => throw new ClassifyException(ExitCode.ManifestInvalid, _path,
                "the model returns something other than one tensor or a pair of them (a dict?); export a model whose forward returns the class scores (or the scores and the embedding)"),
        };
        return (Host(scores), features is null ? null : Host(features));
        static Tensor Host(Tensor t) => t.to(ScalarType.Float32).cpu().contiguous();
    }

    /// <summary>Pixels [N,H,W,3] RGB uint8 on the device to the model's input: channel order, float32, multiply, add,
    /// and NCHW as a view of the NHWC data, which is the channels_last memory format (made contiguous NCHW otherwise).</summary>
    internal Tensor FromPixels(Tensor pixels)
    {
        var x = pixels.index_select(3, _channelOrder!).to(ScalarType.Float32);
        x = x.mul(_multiplier!).add(_offset!);
        if (_manifest.Input.Layout == TensorLayout.Nhwc)
            return x;
        x = x.permute(0, 3, 1, 2);
        return _channelsLast ? x : x.contiguous();
    }

    /// <summary>The host tensor the batch is copied into, big enough for <paramref name="input"/>'s capacity;
    /// page-locked for CUDA so the copy to the GPU runs at full speed. Lives outside every dispose scope.</summary>
    private Tensor HostBuffer(InputBatch input)
    {
        var elements = (long)input.Capacity * input.ImageLength;
        if (_host is { } h && h.numel() >= elements) return h;
        _host?.Dispose();
        var type = input.Floats is null ? ScalarType.Byte : ScalarType.Float32;
        var t = empty([elements], type);
        if (_device.type == DeviceType.CUDA)
        {
            var pinned = t.pin_memory();
            t.Dispose();
            t = pinned;
        }
        _host = t;
        return t;
    }

    /// <summary>
    /// channels_last without memory_format, which TorchSharp 0.107 lacks: an NCHW tensor whose strides are
    /// those of NHWC is exactly what PyTorch's <c>contiguous(memory_format=torch.channels_last)</c> makes.
    /// </summary>
    internal static Tensor ToChannelsLast(Tensor t) => t.dim() == 4 ? t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : t;

    /// <summary>What PyTorch's <c>module.to(memory_format=torch.channels_last)</c> does: every 4-d parameter
    /// (convolution weights) gets NHWC strides, in place, so cuDNN picks its NHWC kernels.</summary>
    internal static void ToChannelsLast(jit.ScriptModule module)
    {
        using var grad = no_grad();
        foreach (var p in module.parameters())
        {
            if (p.dim() != 4) continue;
            using var nhwc = ToChannelsLast((Tensor)p);
            p.set_(nhwc);
        }
    }

    internal static string FirstLine(string message) =>
        message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? message;

    public void Dispose()
    {
        _host?.Dispose();
        _multiplier?.Dispose();
        _offset?.Dispose();
        _channelOrder?.Dispose();
        _module.Dispose();
    }
}
