using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Inference;

/// <summary>
/// A GPU backend that cannot fail silently (issue 26). Creating a session on CUDA proves little: cuDNN is opened on
/// the first run, and nothing compares the device's numbers with the CPU's. So, before the first image:
/// <list type="number">
/// <item>a probe batch (zeros and a fixed pixel pattern) runs on the device; a failure is the GPU's diagnosis;</item>
/// <item>a backend that preprocesses on its device shows what its preprocessing made of the pattern, which must equal
/// the CPU writer's floats bit for bit; if not, preprocessing moves back to the CPU (one line);</item>
/// <item>the probe's probabilities must agree with a CPU session's within <see cref="Tolerance"/>; if not, the run
/// goes to the CPU.</item>
/// </list>
/// During the run, a batch the device fails on is run again on the CPU session, and so is the rest of the run (one
/// line; <see cref="Placement"/> says which images ran where); a batch the device has no memory for is not a failure of
/// the device but of --batch_size, and stops the run (<see cref="BatchOutOfMemoryException"/>, exit 18). With a GPU required (--require-gpu, --device cuda)
/// every one of these is exit 20 instead: before the first image, or after the results so far, which a rerun resumes.
/// A backend on the CPU is returned as it is.
/// </summary>
public sealed class FailSafeBackend : IClassifierBackend
{
    private readonly Func<BackendOptions, IClassifierBackend> _create;
    private readonly BackendOptions _cpuOptions;
    private readonly Action<string>? _log;
    private readonly bool _required;
    private IClassifierBackend _current;
    private IClassifierBackend? _cpu;
    private readonly List<(long First, ComputeDevice Device)> _placement = [];
    private long _images;

    private FailSafeBackend(IClassifierBackend device, IClassifierBackend? cpu, Func<BackendOptions, IClassifierBackend> create,
        BackendOptions cpuOptions, BackendOptions options)
    {
        _current = device;
        _cpu = cpu;
        _create = create;
        _cpuOptions = cpuOptions;
        _log = options.Log;
        _required = Required(options);
        _placement.Add((0, device.Device));
    }

    /// <summary>How far the device's probe probabilities may be from the CPU's (logits go through softmax first). The
    /// check is for a device that computes garbage, not for rounding: TF32 convolutions moved ResNet-50's logits by
    /// 2.3e-2 on the H200 (../shared/device), about 5e-3 in probability; half precision and a quantised model split
    /// between CUDA and the CPU move more.</summary>
    public static float Tolerance(BackendOptions options, ModelManifest manifest) =>
        options.Half || manifest.Input.ElementType == TensorElementKind.Uint8 ? 5e-2f : 2e-2f;

    private static bool Required(BackendOptions o) => o.RequireGpu || o.Device == DeviceRequest.Cuda;

    /// <summary>Creates the backend with <paramref name="create"/> and, if it landed on a GPU, proves it (see the
    /// class); returns the checked GPU backend, a CPU backend when the GPU failed its proof, or throws exit 20.</summary>
    public static IClassifierBackend Create(Func<BackendOptions, IClassifierBackend> create, ModelManifest manifest, BackendOptions options)
    {
        var device = create(options);
        if (!device.Device.IsCuda)
            return device;
        // The CPU twin: the model's own float32 file, with the same kind of input as the device's (pixels when the
        // device preprocesses, the CPU then running the same preprocessing graph), so a batch can move to it.
        var cpuOptions = CpuOptions(options, device.Input, manifest);
        IClassifierBackend? cpu = null;
        try
        {
            var probe = Probe(device.Input, manifest.Input);
            var classes = manifest.Output.Classes;
            var onDevice = new float[probe.Count * classes];
            if (Try(() => device.Run(probe, onDevice)) is { } failure)
                return Refuse(device, create, cpuOptions, options, $"the first run on {device.Device} failed: {failure}");
            cpu = create(cpuOptions);
            if (device.Input.ElementType != manifest.Input.ElementType && device is IPreprocessingProbe pre
                && PreprocessingProblem(pre, probe, manifest.Input) is { } wrong)
            {
                options.Log?.Invoke($"warning: preprocessing on {device.Device} differs from the CPU's ({wrong}); preprocessing moves to the CPU");
                device.Dispose();
                cpu.Dispose();
                cpu = null;
                return Create(create, manifest, options with { DevicePreprocessing = false });
            }
            var onCpu = new float[onDevice.Length];
            cpu.Run(cpu.Input.ElementType == device.Input.ElementType ? probe : Probe(cpu.Input, manifest.Input), onCpu);
            var gap = Gap(onDevice, onCpu, classes, manifest.Output.Kind);
            if (!(gap <= Tolerance(options, manifest)))
            {
                cpu.Dispose();
                cpu = null;
                return Refuse(device, create, cpuOptions, options,
                    $"its scores differ from the CPU's by up to {gap:G3} on a test batch (tolerance {Tolerance(options, manifest):G3})");
            }
            return new FailSafeBackend(device, cpu, create, cpuOptions, options);
        }
        catch
        {
            device.Dispose();
            cpu?.Dispose();
            throw;
        }
    }

    /// <summary>The GPU failed its proof: exit 20 when it is required, else the CPU with one warning line.</summary>
    private static IClassifierBackend Refuse(IClassifierBackend device, Func<BackendOptions, IClassifierBackend> create,
        BackendOptions cpuOptions, BackendOptions options, string why)
    {
        var name = device.Device;
        device.Dispose();
        if (Required(options))
            throw new ClassifyException(ExitCode.GpuUnavailable, null, $"GPU {name} is not usable: {why}");
        options.Log?.Invoke($"warning: GPU {name} is not usable: {why}. Running on the CPU.");
        return create(cpuOptions);
    }

    private static BackendOptions CpuOptions(BackendOptions options, InputSpec deviceInput, ModelManifest manifest) => options with
    {
        Device = DeviceRequest.Cpu,
        RequireGpu = false,
        Half = false,
        ChannelsLast = false,
        ModelFile = null,
        DevicePreprocessing = deviceInput.ElementType != manifest.Input.ElementType,
    };

    /// <summary>Two images: zeros, and a pattern that covers every byte value in every channel.</summary>
    internal static InputBatch Probe(InputSpec input, InputSpec model)
    {
        var batch = new InputBatch(input, 2) { Count = 2 };
        var rgb = Pattern(model);
        new TensorWriter(input).Write(rgb, batch, 1);
        return batch;
    }

    internal static byte[] Pattern(InputSpec model)
    {
        var rgb = new byte[3 * model.Width * model.Height];
        for (var i = 0; i < rgb.Length; i++)
            rgb[i] = (byte)((i * 37 + i / 3 * 11) & 0xFF);
        return rgb;
    }

    /// <summary>What the device's preprocessing made of the pattern against the CPU writer's floats, or null when equal.</summary>
    private static string? PreprocessingProblem(IPreprocessingProbe device, InputBatch probe, InputSpec model)
    {
        var reference = new InputBatch(model, 2) { Count = 2 };
        new TensorWriter(model).Write(Pattern(model), reference, 1);
        var made = new float[2 * reference.ImageLength];
        device.Preprocess(probe, made);
        var expected = reference.Floats!;
        for (var i = 0; i < made.Length; i++)
            if (BitConverter.SingleToInt32Bits(made[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                return $"element {i}: {made[i]:R} where the CPU writes {expected[i]:R}";
        return null;
    }

    /// <summary>The largest difference between two batches' probabilities (NaN if either has a NaN).</summary>
    internal static float Gap(float[] a, float[] b, int classes, OutputKind kind)
    {
        var gap = 0f;
        for (var start = 0; start < a.Length; start += classes)
        {
            var pa = Probabilities(a.AsSpan(start, classes), kind);
            var pb = Probabilities(b.AsSpan(start, classes), kind);
            for (var i = 0; i < classes; i++)
            {
                var d = MathF.Abs(pa[i] - pb[i]);
                if (float.IsNaN(d)) return float.NaN;
                gap = Math.Max(gap, d);
            }
        }
        return gap;
    }

    private static float[] Probabilities(ReadOnlySpan<float> scores, OutputKind kind)
    {
        var p = scores.ToArray();
        if (kind != OutputKind.Logits) return p;
        var max = p.Max();
        var sum = 0.0;
        for (var i = 0; i < p.Length; i++) sum += p[i] = MathF.Exp(p[i] - max);
        for (var i = 0; i < p.Length; i++) p[i] = (float)(p[i] / sum);
        return p;
    }

    private static string? Try(Action run)
    {
        try
        {
            run();
            return null;
        }
        catch (Exception e) when (e is not ClassifyException)
        {
            return FirstLine(e.Message);
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    public string Name => _current.Name;

    /// <summary>Where the run is now; <see cref="Placement"/> has its history.</summary>
    public ComputeDevice Device => _current.Device;

    public InputSpec Input => _current.Input;

    /// <summary>Which images ran where: from image First (0-based, in run order) on, Device.</summary>
    public IReadOnlyList<(long First, ComputeDevice Device)> Placement => _placement;

    /// <summary>"images 1-640 on cuda:0, 641-1000 on cpu" once the run moved; null while it did not.</summary>
    public string? PlacementSummary => _placement.Count < 2 ? null : string.Join(", ", _placement.Select((p, i) =>
        $"images {p.First + 1}-{(i + 1 < _placement.Count ? _placement[i + 1].First : _images)} on {p.Device}"));

    public int FeatureWidth => _current.FeatureWidth;

    public void Run(InputBatch input, Span<float> output, CancellationToken cancel = default) => Run(input, output, default, cancel);

    public void Run(InputBatch input, Span<float> output, Span<float> features, CancellationToken cancel = default)
    {
        if (ReferenceEquals(_current, _cpu))
        {
            _cpu.Run(input, output, features, cancel);
            _images += input.Count;
            return;
        }
        string? failure;
        try
        {
            _current.Run(input, output, features, cancel);
            _images += input.Count;
            return;
        }
        // A cancelled run is the user's, not a device failure; nor is a batch too large for the device's memory (exit 18,
        // lower --batch_size), which moving the rest of the run to the CPU would answer a hundred times slower.
        catch (Exception e) when (e is not (ClassifyException or OperationCanceledException or BatchOutOfMemoryException))
        {
            failure = FirstLine(e.Message);
        }
        var device = _current.Device;
        if (_required)
            throw new ClassifyException(ExitCode.GpuUnavailable, null,
                $"GPU {device} failed on images {_images + 1}-{_images + input.Count} ({failure}); a GPU is required, so the run stops here: the results so far are written, and a rerun with the same --output resumes");
        _log?.Invoke($"warning: GPU {device} failed on images {_images + 1}-{_images + input.Count} ({failure}); they and the rest of the run go to the CPU");
        _cpu ??= _create(_cpuOptions);
        if (_cpu.Input.ElementType != input.Spec.ElementType)
            throw new ClassifyException(ExitCode.GpuUnavailable, null,
                $"GPU {device} failed on images {_images + 1}-{_images + input.Count} ({failure}), and the CPU cannot take this run's batches over; the results so far are written, and a rerun with the same --output resumes");
        var old = _current;
        _current = _cpu;
        _placement.Add((_images, _cpu.Device));
        try
        {
            old.Dispose();
        }
        catch (Exception e) when (e is not ClassifyException)
        {
            // a device in a bad state may fail to release; the CPU carries on
        }
        _cpu.Run(input, output, features, cancel);
        _images += input.Count;
    }

    public void Dispose()
    {
        if (!ReferenceEquals(_current, _cpu)) _current.Dispose();
        _cpu?.Dispose();
    }
}

/// <summary>A backend that preprocesses on its device and can show what that made of a batch of pixels.</summary>
public interface IPreprocessingProbe
{
    /// <summary>Writes the model's input tensor that the device makes of <paramref name="pixels"/> into
    /// <paramref name="tensor"/> (host memory).</summary>
    void Preprocess(InputBatch pixels, Span<float> tensor);
}
