using System.Runtime.InteropServices;

namespace Classify.Gpu;

/// <summary>NVML (libnvidia-ml.so.1): names and memory of the node's GPUs when libcuda cannot be used.</summary>
internal static unsafe class Nvml
{
    public static NvmlSnapshot? Query(nint libnvml, out string? error)
    {
        error = null;
        if (!NativeLibrary.TryGetExport(libnvml, "nvmlInit_v2", out var init)
            || !NativeLibrary.TryGetExport(libnvml, "nvmlShutdown", out var shutdown)
            || !NativeLibrary.TryGetExport(libnvml, "nvmlDeviceGetCount_v2", out var getCount)
            || !NativeLibrary.TryGetExport(libnvml, "nvmlDeviceGetHandleByIndex_v2", out var getHandle)
            || !NativeLibrary.TryGetExport(libnvml, "nvmlDeviceGetName", out var getName)
            || !NativeLibrary.TryGetExport(libnvml, "nvmlDeviceGetMemoryInfo", out var getMemory)
            || !NativeLibrary.TryGetExport(libnvml, "nvmlSystemGetDriverVersion", out var getDriver))
        {
            error = "libnvidia-ml lacks an NVML function this probe uses";
            return null;
        }
        var r = ((delegate* unmanaged<int>)init)();
        if (r != 0)
        {
            error = $"nvmlInit_v2 returned {r}";
            return null;
        }
        try
        {
            var buffer = stackalloc byte[96];
            string? driver = ((delegate* unmanaged<byte*, uint, int>)getDriver)(buffer, 96) == 0 ? Marshal.PtrToStringUTF8((nint)buffer) : null;
            int? cuda = null;
            if (NativeLibrary.TryGetExport(libnvml, "nvmlSystemGetCudaDriverVersion_v2", out var getCuda))
            {
                int v;
                if (((delegate* unmanaged<int*, int>)getCuda)(&v) == 0) cuda = v;
            }
            uint count;
            if (((delegate* unmanaged<uint*, int>)getCount)(&count) != 0) count = 0;
            var gpus = new List<GpuInfo>();
            var memory = stackalloc ulong[3];
            for (uint i = 0; i < count; i++)
            {
                nint device;
                if (((delegate* unmanaged<uint, nint*, int>)getHandle)(i, &device) != 0) continue;
                var name = ((delegate* unmanaged<nint, byte*, uint, int>)getName)(device, buffer, 96) == 0
                    ? Marshal.PtrToStringUTF8((nint)buffer) ?? "unknown NVIDIA GPU" : "unknown NVIDIA GPU";
                long? total = ((delegate* unmanaged<nint, ulong*, int>)getMemory)(device, memory) == 0 ? (long)memory[0] : null;
                gpus.Add(new GpuInfo((int)i, name, total, null, "nvml"));
            }
            return new NvmlSnapshot(driver, cuda, gpus);
        }
        finally
        {
            ((delegate* unmanaged<int>)shutdown)();
        }
    }
}
