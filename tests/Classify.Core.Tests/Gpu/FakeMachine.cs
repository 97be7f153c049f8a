using Classify.Gpu;
using Xunit;

namespace Classify.Tests.Gpu;

/// <summary>
/// A machine for <see cref="GpuProbe"/>: a temporary directory stands for "/", a dictionary for the
/// environment, and <see cref="FakeLoader"/> for the dynamic linker.
/// </summary>
internal sealed class FakeMachine : IDisposable
{
    public const string Driver = "580.159.04";

    public FakeMachine()
    {
        Root = Directory.CreateTempSubdirectory("classify-gpu-").FullName;
        Directory.CreateDirectory(Path.Join(Root, "dev"));
        Directory.CreateDirectory(Path.Join(Root, "proc"));
    }

    public string Root { get; }
    public Dictionary<string, string> Env { get; } = new(StringComparer.Ordinal);
    public FakeLoader Loader { get; } = new();

    public FakeMachine File(string path, string content = "")
    {
        var full = Path.Join(Root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, content);
        return this;
    }

    public FakeMachine Dir(string path)
    {
        Directory.CreateDirectory(Path.Join(Root, path));
        return this;
    }

    /// <summary>What a GPU host shows even inside a container started without --nv: device nodes and the kernel module.</summary>
    public FakeMachine GpuHardware(string driver = Driver)
    {
        File("/dev/nvidia0").File("/dev/nvidiactl").File("/dev/nvidia-uvm");
        return KernelModule(driver);
    }

    public FakeMachine KernelModule(string driver = Driver) => File("/proc/driver/nvidia/version",
        $"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {driver}  Thu Oct 30 10:00:00 UTC 2025\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n");

    /// <summary>A working driver and every library ONNX Runtime's CUDA provider needs.</summary>
    public FakeMachine WorkingCuda(FakeCuda? cuda = null)
    {
        Loader.Provide(GpuProbe.LibCuda, cuda ?? new FakeCuda());
        foreach (var (name, _) in GpuRequirements.OnnxRuntime.Libraries)
            Loader.Present(name);
        return this;
    }

    public FakeMachine Set(string name, string value)
    {
        Env[name] = value;
        return this;
    }

    public GpuReport Probe(bool thorough = false) =>
        new GpuProbe(Root, Env, Loader).Run(GpuRequirements.OnnxRuntime, thorough);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// The dynamic linker of a <see cref="FakeMachine"/>. Every library a test did not declare fails the test when
/// the probe asks for it, and <see cref="ForbidLoading"/> fails it on any load: the probe must not touch the
/// linker on a machine without NVIDIA hardware.
/// </summary>
internal sealed class FakeLoader : INativeLibraryLoader
{
    private readonly Dictionary<string, NativeLoadResult> _libraries = new(StringComparer.Ordinal);
    private readonly Dictionary<nint, ICudaDriverApi> _cuda = [];
    private readonly Dictionary<nint, NvmlSnapshot> _nvml = [];
    private nint _nextHandle = 0x1000;
    private bool _forbidden;

    public List<string> Loads { get; } = [];

    public void ForbidLoading() => _forbidden = true;

    public FakeLoader Present(string name)
    {
        _libraries[name] = new NativeLoadResult(name, _nextHandle++, $"/usr/lib/x86_64-linux-gnu/{name}", null, TimeSpan.FromMilliseconds(1));
        return this;
    }

    public FakeLoader Missing(string name, string? error = null)
    {
        _libraries[name] = new NativeLoadResult(name, 0, null, error ?? $"{name}: cannot open shared object file: No such file or directory", TimeSpan.Zero);
        return this;
    }

    public FakeLoader Provide(string libcuda, ICudaDriverApi api)
    {
        Present(libcuda);
        _cuda[_libraries[libcuda].Handle] = api;
        return this;
    }

    public FakeLoader ProvideNvml(NvmlSnapshot snapshot)
    {
        Present(GpuProbe.LibNvml);
        _nvml[_libraries[GpuProbe.LibNvml].Handle] = snapshot;
        return this;
    }

    public NativeLoadResult Load(string soname)
    {
        if (_forbidden)
            Assert.Fail($"the probe loaded {soname} on a machine where it must load nothing");
        Loads.Add(soname);
        if (!_libraries.TryGetValue(soname, out var r))
            Assert.Fail($"the probe loaded {soname}, which this test did not declare");
        return r;
    }

    public ICudaDriverApi? BindCudaDriver(NativeLoadResult libcuda, out string? error)
    {
        error = _cuda.ContainsKey(libcuda.Handle) ? null : "missing symbol(s) cuInit";
        return _cuda.GetValueOrDefault(libcuda.Handle);
    }

    public NvmlSnapshot? QueryNvml(NativeLoadResult libnvml, out string? error)
    {
        error = _nvml.ContainsKey(libnvml.Handle) ? null : "nvmlInit_v2 returned 9";
        return _nvml.GetValueOrDefault(libnvml.Handle);
    }
}

/// <summary>A CUDA driver with one H200 unless told otherwise.</summary>
internal sealed class FakeCuda : ICudaDriverApi
{
    public int Version { get; init; } = 13000;
    public int InitResult { get; init; }
    public IReadOnlyList<(string Name, long Memory)> Devices { get; init; } = [("NVIDIA H200", 150_110_011_392L)];

    public int DriverGetVersion(out int version)
    {
        version = Version;
        return 0;
    }

    public int Init() => InitResult;

    public int DeviceGetCount(out int count)
    {
        count = Devices.Count;
        return 0;
    }

    public int DeviceGetName(int ordinal, out string name)
    {
        name = Devices[ordinal].Name;
        return 0;
    }

    public int DeviceTotalMemory(int ordinal, out long bytes)
    {
        bytes = Devices[ordinal].Memory;
        return 0;
    }

    public int DeviceComputeCapability(int ordinal, out int major, out int minor)
    {
        (major, minor) = (9, 0);
        return 0;
    }

    public string Describe(int result) => result switch
    {
        100 => "CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is detected",
        803 => "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803): system has unsupported display driver / cuda driver combination",
        _ => $"CUresult {result}",
    };
}
