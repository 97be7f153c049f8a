using Classify.Backends.Torch;
using Classify.Gpu;
using Classify.Inference;
using TorchSharp;

namespace Classify.Tests;

/// <summary>
/// Device rules with the two answers this machine cannot give stated outright: the GPU probe's (a usable GPU or
/// not) and libtorch's count of CUDA devices.
/// </summary>
public sealed class TorchDeviceTests
{
    private readonly List<string> _log = [];

    internal static GpuReport Report(int gpus, GpuDiagnosis diagnosis) => new()
    {
        DeviceNodes = ["/dev/nvidia0"],
        DriverVersion = "580.0",
        CudaDriverVersion = 13000,
        Gpus = [.. Enumerable.Range(0, gpus).Select(i => new GpuInfo(i, "NVIDIA H200", null, "9.0", "stated by the test"))],
        Container = ContainerInfo.None,
        Slurm = null,
        CudaVisibleDevices = null,
        Libraries = [],
        Requirements = TorchDevice.Requirements,
        Trace = [],
        Diagnosis = diagnosis,
        HardwareVisible = true,
    };

    internal static readonly GpuReport TwoGpus = Report(2, GpuDiagnosis.Usable("2 GPUs"));
    private static readonly GpuReport NoDriver = Report(0, new GpuDiagnosis(GpuDiagnosisKind.ContainerWithoutNv, "libcuda.so.1 is missing in the container", "run singularity with --nv"));

    private torch.Device Resolve(BackendOptions options, GpuReport report, int libtorchCount) =>
        TorchDevice.Resolve(options with { Log = _log.Add }, new GpuDevicePolicy(options with { Log = _log.Add }, TorchDevice.Requirements, _ => report), () => libtorchCount);

    [Fact]
    public void Auto_takes_the_requested_gpu_when_probe_and_libtorch_see_it()
    {
        var device = Resolve(new BackendOptions { GpuIndex = 1 }, TwoGpus, libtorchCount: 2);
        Assert.Equal((DeviceType.CUDA, 1), (device.type, device.index));
    }

    [Fact]
    public void Auto_runs_on_the_cpu_with_the_probes_warning_when_the_gpu_is_not_usable()
    {
        var device = Resolve(new BackendOptions(), NoDriver, libtorchCount: 1);

        Assert.Equal(DeviceType.CPU, device.type);
        Assert.Contains(_log, l => l.Contains("libcuda.so.1 is missing"));
    }

    [Fact]
    public void Auto_runs_on_the_cpu_with_a_warning_when_libtorch_has_no_cuda()
    {
        var device = Resolve(new BackendOptions(), TwoGpus, libtorchCount: 0);

        Assert.Equal(DeviceType.CPU, device.type);
        Assert.Contains(_log, l => l.Contains("libtorch sees no CUDA device"));
    }

    [Fact]
    public void Cpu_never_asks_the_probe_or_libtorch()
    {
        var options = new BackendOptions { Device = DeviceRequest.Cpu };
        var device = TorchDevice.Resolve(options, new GpuDevicePolicy(options, TorchDevice.Requirements, _ => throw new InvalidOperationException("probed")),
            () => throw new InvalidOperationException("asked libtorch"));
        Assert.Equal(DeviceType.CPU, device.type);
    }

    [Fact]
    public void Cuda_without_a_usable_gpu_is_GpuUnavailable_with_the_probes_diagnosis()
    {
        var e = Assert.Throws<ClassifyException>(() => Resolve(new BackendOptions { Device = DeviceRequest.Cuda }, NoDriver, libtorchCount: 0));
        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
        Assert.Contains("libcuda.so.1 is missing", e.Message);
    }

    [Fact]
    public void Cuda_with_a_cpu_libtorch_is_GpuUnavailable_naming_libtorch()
    {
        var e = Assert.Throws<ClassifyException>(() => Resolve(new BackendOptions { Device = DeviceRequest.Cuda }, TwoGpus, libtorchCount: 0));
        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
        Assert.Contains("libtorch sees no CUDA device", e.Message);
    }

    [Fact]
    public void A_gpu_index_past_the_visible_ones_is_GpuUnavailable()
    {
        var e = Assert.Throws<ClassifyException>(() => Resolve(new BackendOptions { Device = DeviceRequest.Cuda, GpuIndex = 2 }, TwoGpus, libtorchCount: 2));
        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Fp16_and_channels_last_on_the_cpu_are_usage_errors(bool half, bool channelsLast)
    {
        var e = Assert.Throws<ClassifyException>(() => Resolve(new BackendOptions { Half = half, ChannelsLast = channelsLast }, NoDriver, libtorchCount: 0));
        Assert.Equal(ExitCode.Usage, e.ExitCode);
    }

    [Fact]
    public void Fp16_and_channels_last_on_a_gpu_are_fine()
    {
        var device = Resolve(new BackendOptions { Device = DeviceRequest.Cuda, Half = true, ChannelsLast = true }, TwoGpus, libtorchCount: 2);
        Assert.Equal(DeviceType.CUDA, device.type);
    }
}
