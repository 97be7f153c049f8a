using Classify.Backends.Torch;
using Classify.Inference;
using TorchSharp;

namespace Classify.Tests;

/// <summary>Device rules against stated GPU counts: the seam where the GPU probe answers (no GPU here).</summary>
public sealed class TorchDeviceTests
{
    private static Func<int> Gpus(int n) => () => n;

    [Fact]
    public void Auto_takes_the_requested_gpu_when_there_is_one()
    {
        var device = TorchDevice.Resolve(new BackendOptions { Device = DeviceRequest.Auto, GpuIndex = 1 }, Gpus(2));
        Assert.Equal((DeviceType.CUDA, 1L), (device.type, device.index));
    }

    [Fact]
    public void Auto_falls_back_to_the_cpu_without_a_gpu()
    {
        var device = TorchDevice.Resolve(new BackendOptions { Device = DeviceRequest.Auto }, Gpus(0));
        Assert.Equal(DeviceType.CPU, device.type);
    }

    [Fact]
    public void Cpu_never_asks_about_gpus()
    {
        var device = TorchDevice.Resolve(new BackendOptions { Device = DeviceRequest.Cpu }, () => throw new InvalidOperationException("asked"));
        Assert.Equal(DeviceType.CPU, device.type);
    }

    [Theory]
    [InlineData(DeviceRequest.Cuda, 0, 0)]
    [InlineData(DeviceRequest.Cuda, 2, 2)]
    [InlineData(DeviceRequest.Auto, 1, 1)]
    public void A_gpu_that_is_not_there_is_GpuUnavailable(DeviceRequest request, int index, int count)
    {
        var e = Assert.Throws<ClassifyException>(() => TorchDevice.Resolve(new BackendOptions { Device = request, GpuIndex = index }, Gpus(count)));
        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Fp16_and_channels_last_on_the_cpu_are_usage_errors(bool half, bool channelsLast)
    {
        var e = Assert.Throws<ClassifyException>(() =>
            TorchDevice.Resolve(new BackendOptions { Device = DeviceRequest.Auto, Half = half, ChannelsLast = channelsLast }, Gpus(0)));
        Assert.Equal(ExitCode.Usage, e.ExitCode);
    }

    [Fact]
    public void Fp16_on_a_gpu_is_fine()
    {
        var device = TorchDevice.Resolve(new BackendOptions { Device = DeviceRequest.Cuda, Half = true, ChannelsLast = true }, Gpus(1));
        Assert.Equal(DeviceType.CUDA, device.type);
    }
}
