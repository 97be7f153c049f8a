using Classify.Gpu;
using Classify.Inference;

namespace Classify.Tests.Gpu;

public sealed class GpuDevicePolicyTests : IDisposable
{
    private readonly FakeMachine _m = new();
    private readonly List<string> _log = [];

    public void Dispose() => _m.Dispose();

    private GpuDevicePolicy Policy(DeviceRequest device = DeviceRequest.Auto, bool require = false, bool verbose = false, int gpu = 0) =>
        new(new BackendOptions { Device = device, RequireGpu = require, Verbose = verbose, GpuIndex = gpu, Log = _log.Add },
            GpuRequirements.OnnxRuntime, r => _m.Probe());

    private void ApptainerWithoutNv()
    {
        _m.GpuHardware().Set("APPTAINER_CONTAINER", "/x.sif");
        _m.Loader.Missing(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);
    }

    [Fact]
    public void DeviceCpu_DoesNotProbe()
    {
        var policy = new GpuDevicePolicy(new BackendOptions { Device = DeviceRequest.Cpu }, GpuRequirements.OnnxRuntime,
            _ => throw new InvalidOperationException("--device cpu must not probe"));

        Assert.False(policy.ShouldTryCuda());
    }

    [Fact]
    public void A_run_probes_once_for_the_command_and_the_backend()
    {
        // Issue 27: the command's --require-gpu check and the backend's device choice (and its CPU fallback's
        // options) share the run's report instead of a static cache.
        ApptainerWithoutNv();
        var probes = 0;
        var reports = new GpuReports(r => { probes++; return _m.Probe(); });
        var options = new BackendOptions { GpuReports = reports, Log = _log.Add };

        new GpuDevicePolicy(options, GpuRequirements.OnnxRuntime).ThrowIfRequiredAndUnusable();
        Assert.False(new GpuDevicePolicy(options, GpuRequirements.OnnxRuntime).ShouldTryCuda());
        Assert.False(new GpuDevicePolicy(options with { Half = true }, GpuRequirements.OnnxRuntime).ShouldTryCuda());

        Assert.Equal(1, probes);
        Assert.Equal(1, reports.Probes);
        // Another run (another GpuReports) probes again: nothing is kept in a static.
        Assert.False(new GpuDevicePolicy(options with { GpuReports = new GpuReports(r => { probes++; return _m.Probe(); }) }, GpuRequirements.OnnxRuntime).ShouldTryCuda());
        Assert.Equal(2, probes);
    }

    [Fact]
    public void UsableGpu_IsTried()
    {
        _m.GpuHardware().WorkingCuda();

        Assert.True(Policy().ShouldTryCuda());
        Assert.Empty(_log);
    }

    [Fact]
    public void BrokenGpu_WarnsOnce_AndFallsBack()
    {
        ApptainerWithoutNv();

        Assert.False(Policy().ShouldTryCuda());
        Assert.StartsWith("warning: an NVIDIA GPU is present (driver 580.159.04)", Assert.Single(_log));
    }

    [Fact]
    public void CpuMachine_SaysNothing()
    {
        _m.Loader.ForbidLoading();

        Assert.False(Policy().ShouldTryCuda());
        Assert.Empty(_log);
    }

    [Fact]
    public void CpuMachine_Verbose_SaysWhy()
    {
        _m.Loader.ForbidLoading();
        var policy = Policy(verbose: true);

        policy.ShouldTryCuda();
        policy.Chose(ComputeDevice.Cpu);

        Assert.Equal("GPU: no NVIDIA GPU found (no /dev/nvidia*, no /proc/driver/nvidia); running on the CPU", Assert.Single(_log));
    }

    [Theory]
    [InlineData(DeviceRequest.Cuda, false)]
    [InlineData(DeviceRequest.Auto, true)]
    public void RequiredGpu_Throws_GpuUnavailable(DeviceRequest device, bool require)
    {
        ApptainerWithoutNv();

        var e = Assert.Throws<ClassifyException>(() => Policy(device, require).ShouldTryCuda());

        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
        Assert.Contains("add --nv", e.Message);
    }

    [Fact]
    public void RequiredGpu_FailsFast_BeforeTheBackend()
    {
        _m.Set("SLURM_JOB_ID", "5");

        var e = Assert.Throws<ClassifyException>(() => Policy(require: true).ThrowIfRequiredAndUnusable());

        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
    }

    [Fact]
    public void ProviderFailure_WarnsWithTheNativeMessage()
    {
        _m.GpuHardware().WorkingCuda();
        var policy = Policy();
        policy.ShouldTryCuda();

        policy.CudaFailed("Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn_graph.so.9: cannot open shared object file");

        Assert.Equal("warning: the CUDA execution provider of ONNX Runtime 1.31 failed: Failed to load library libonnxruntime_providers_cuda.so "
            + "with error: libcudnn_graph.so.9: cannot open shared object file; `classify doctor --verbose` lists what was found and loaded. "
            + "Running on the CPU.", Assert.Single(_log));
    }

    [Fact]
    public void ProviderFailure_WhenRequired_Throws()
    {
        _m.GpuHardware().WorkingCuda();
        var policy = Policy(DeviceRequest.Cuda);
        policy.ShouldTryCuda();

        Assert.Equal(ExitCode.GpuUnavailable, Assert.Throws<ClassifyException>(() => policy.CudaFailed("CUDA failure 2: out of memory")).ExitCode);
    }
}
