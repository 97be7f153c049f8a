using System.Runtime.InteropServices;

namespace Classify.Gpu;

/// <summary>The CUDA driver API (libcuda.so.1) through function pointers resolved from the loaded library.</summary>
internal sealed unsafe class CudaDriverApi : ICudaDriverApi
{
    private const int AttributeComputeCapabilityMajor = 75;
    private const int AttributeComputeCapabilityMinor = 76;

    private delegate* unmanaged<int*, int> _driverGetVersion;
    private delegate* unmanaged<uint, int> _init;
    private delegate* unmanaged<int*, int> _deviceGetCount;
    private delegate* unmanaged<int*, int, int> _deviceGet;
    private delegate* unmanaged<byte*, int, int, int> _deviceGetName;
    private delegate* unmanaged<nuint*, int, int> _deviceTotalMem;
    private delegate* unmanaged<int*, int, int, int> _deviceGetAttribute;
    private delegate* unmanaged<int, byte**, int> _getErrorName;
    private delegate* unmanaged<int, byte**, int> _getErrorString;

    private CudaDriverApi() { }

    public static CudaDriverApi? Bind(nint libcuda, out string? error)
    {
        var missing = new List<string>();
        nint Get(string symbol)
        {
            if (NativeLibrary.TryGetExport(libcuda, symbol, out var address)) return address;
            missing.Add(symbol);
            return 0;
        }
        var api = new CudaDriverApi
        {
            _driverGetVersion = (delegate* unmanaged<int*, int>)Get("cuDriverGetVersion"),
            _init = (delegate* unmanaged<uint, int>)Get("cuInit"),
            _deviceGetCount = (delegate* unmanaged<int*, int>)Get("cuDeviceGetCount"),
            _deviceGet = (delegate* unmanaged<int*, int, int>)Get("cuDeviceGet"),
            _deviceGetName = (delegate* unmanaged<byte*, int, int, int>)Get("cuDeviceGetName"),
            _deviceTotalMem = (delegate* unmanaged<nuint*, int, int>)Get("cuDeviceTotalMem_v2"),
            _deviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Get("cuDeviceGetAttribute"),
            _getErrorName = (delegate* unmanaged<int, byte**, int>)Get("cuGetErrorName"),
            _getErrorString = (delegate* unmanaged<int, byte**, int>)Get("cuGetErrorString"),
        };
        error = missing.Count == 0 ? null : $"missing symbol(s) {string.Join(", ", missing)}";
        return missing.Count == 0 ? api : null;
    }

    public int DriverGetVersion(out int version)
    {
        int v;
        var r = _driverGetVersion(&v);
        version = v;
        return r;
    }

    public int Init() => _init(0);

    public int DeviceGetCount(out int count)
    {
        int c;
        var r = _deviceGetCount(&c);
        count = c;
        return r;
    }

    public int DeviceGetName(int ordinal, out string name)
    {
        name = "";
        int device;
        var r = _deviceGet(&device, ordinal);
        if (r != 0) return r;
        var buffer = stackalloc byte[256];
        r = _deviceGetName(buffer, 256, device);
        if (r == 0) name = Marshal.PtrToStringUTF8((nint)buffer) ?? "";
        return r;
    }

    public int DeviceTotalMemory(int ordinal, out long bytes)
    {
        bytes = 0;
        int device;
        var r = _deviceGet(&device, ordinal);
        if (r != 0) return r;
        nuint total;
        r = _deviceTotalMem(&total, device);
        if (r == 0) bytes = (long)total;
        return r;
    }

    public int DeviceComputeCapability(int ordinal, out int major, out int minor)
    {
        major = minor = 0;
        int device, a = 0, b = 0;
        var r = _deviceGet(&device, ordinal);
        if (r == 0) r = _deviceGetAttribute(&a, AttributeComputeCapabilityMajor, device);
        if (r == 0) r = _deviceGetAttribute(&b, AttributeComputeCapabilityMinor, device);
        if (r == 0) (major, minor) = (a, b);
        return r;
    }

    public string Describe(int result)
    {
        byte* name = null, text = null;
        _getErrorName(result, &name);
        _getErrorString(result, &text);
        var n = name == null ? $"CUresult {result}" : Marshal.PtrToStringUTF8((nint)name);
        return text == null ? $"{n} ({result})" : $"{n} ({result}): {Marshal.PtrToStringUTF8((nint)text)}";
    }
}
