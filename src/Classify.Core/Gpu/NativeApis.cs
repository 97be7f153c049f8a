namespace Classify.Gpu;

/// <summary>
/// The probe's only door to native code: loading a shared library by name and binding the CUDA driver API
/// and NVML from a loaded library. Tests replace it to play drivers that this machine does not have.
/// </summary>
public interface INativeLibraryLoader
{
    /// <summary>Loads <paramref name="soname"/> the way the dynamic linker would for ONNX Runtime or libtorch.</summary>
    NativeLoadResult Load(string soname);

    /// <summary>Binds the CUDA driver API exported by a loaded libcuda; null with a reason when a symbol is missing.</summary>
    ICudaDriverApi? BindCudaDriver(NativeLoadResult libcuda, out string? error);

    /// <summary>Reads the GPUs through NVML from a loaded libnvidia-ml; null with a reason when that fails.</summary>
    NvmlSnapshot? QueryNvml(NativeLoadResult libnvml, out string? error);
}

/// <summary>What one attempt to load a library gave: a handle and the file it came from, or the loader's message.</summary>
public sealed record NativeLoadResult(string Name, nint Handle, string? Path, string? Error, TimeSpan Elapsed)
{
    public bool Loaded => Handle != 0;
}

/// <summary>The CUDA driver API calls the probe needs (CUresult codes; 0 = CUDA_SUCCESS).</summary>
public interface ICudaDriverApi
{
    int DriverGetVersion(out int version);
    int Init();
    int DeviceGetCount(out int count);
    int DeviceGetName(int ordinal, out string name);
    int DeviceTotalMemory(int ordinal, out long bytes);
    int DeviceComputeCapability(int ordinal, out int major, out int minor);

    /// <summary>"CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected", as the driver words it.</summary>
    string Describe(int result);
}

/// <summary>What NVML says about the machine (it ignores CUDA_VISIBLE_DEVICES: every GPU of the node).</summary>
public sealed record NvmlSnapshot(string? DriverVersion, int? CudaDriverVersion, IReadOnlyList<GpuInfo> Gpus);
