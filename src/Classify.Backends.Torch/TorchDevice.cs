using Classify.Gpu;
using Classify.Inference;
using TorchSharp;

namespace Classify.Backends.Torch;

/// <summary>
/// Picks the device a TorchScript model runs on. The shared GPU probe (<see cref="GpuDevicePolicy"/>) decides
/// whether CUDA is worth trying and what to say when it is not, exactly as for ONNX Runtime; libtorch then has
/// the last word (<c>cudaDeviceCount</c>): a CPU-only libtorch, or one whose CUDA part does not load, sees no GPU
/// even where the driver does.
/// </summary>
internal static class TorchDevice
{
    /// <summary>What the probe checks for libtorch: a CUDA driver of the CUDA 12 era or newer (libtorch 2.10 is
    /// built for CUDA 12.6 and newer). The CUDA libraries come with the libtorch in use, wherever it lives, so the
    /// probe does not look for them on the loader path; libtorch itself reports whether they load.</summary>
    public static readonly GpuRequirements Requirements = new("libtorch 2.10 (TorchSharp 0.107)", 12000, []);

    public static torch.Device Resolve(BackendOptions options, GpuDevicePolicy gpu, Func<int> cudaDeviceCount)
    {
        var device = torch.CPU;
        if (gpu.ShouldTryCuda())
        {
            var count = cudaDeviceCount();
            if (options.GpuIndex < count)
                device = new torch.Device(DeviceType.CUDA, options.GpuIndex);
            else
                gpu.CudaFailed(count == 0
                    ? $"libtorch sees no CUDA device: {LibTorchNative.CudaProblem ?? "the libtorch in use is a CPU build (no libtorch_cuda.so in it); see docs/torch.md for a CUDA libtorch"}"
                    : $"libtorch sees {count} CUDA device(s), so there is no device {options.GpuIndex}");
        }
        if (device.type != DeviceType.CUDA && (options.Half || options.ChannelsLast))
            throw new ClassifyException(ExitCode.Usage, null,
                "--fp16 and --channels_last apply to CUDA only, and this run is on the CPU (no usable GPU, or --device cpu)");
        gpu.Chose(Of(device));
        return device;
    }

    /// <summary>libtorch's device as classify names devices.</summary>
    public static ComputeDevice Of(torch.Device device) => device.type == DeviceType.CUDA ? ComputeDevice.Cuda(device.index) : ComputeDevice.Cpu;
}
