using Classify.Inference;
using TorchSharp;

namespace Classify.Backends.Torch;

/// <summary>
/// Picks the device a TorchScript model runs on from <see cref="BackendOptions"/>. What libtorch reports about
/// CUDA comes in as <c>cudaDeviceCount</c>, the seam where the shared GPU probe plugs in and tests stand in for
/// a GPU this machine does not have.
/// </summary>
internal static class TorchDevice
{
    public static torch.Device Resolve(BackendOptions options, Func<int> cudaDeviceCount)
    {
        if (options.GpuIndex < 0)
            throw new ClassifyException(ExitCode.Usage, null, $"--gpu must be 0 or more, not {options.GpuIndex}");
        var cuda = options.Device switch
        {
            DeviceRequest.Cpu => false,
            DeviceRequest.Cuda => true,
            _ => cudaDeviceCount() > 0,
        };
        if (!cuda)
        {
            if (options.Half || options.ChannelsLast)
                throw new ClassifyException(ExitCode.Usage, null,
                    "--fp16 and --channels_last apply to CUDA only, and this run is on the CPU (no usable GPU, or --device cpu)");
            return torch.CPU;
        }
        var count = cudaDeviceCount();
        if (count == 0)
            throw new ClassifyException(ExitCode.GpuUnavailable, null,
                "--device cuda, but libtorch sees no usable CUDA device (a CPU-only libtorch, no NVIDIA driver, or no GPU visible)" +
                (LibTorchNative.CudaProblem is { } why ? $": {why}" : "; run `classify doctor`"));
        if (options.GpuIndex >= count)
            throw new ClassifyException(ExitCode.GpuUnavailable, null,
                $"--gpu {options.GpuIndex}, but libtorch sees {count} CUDA device(s) (numbered from 0 among CUDA_VISIBLE_DEVICES)");
        return new torch.Device(DeviceType.CUDA, options.GpuIndex);
    }
}
