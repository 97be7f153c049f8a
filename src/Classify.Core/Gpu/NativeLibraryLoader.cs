using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Classify.Gpu;

/// <summary>
/// Loads libraries with the dynamic linker (dlopen through function pointers, so that nothing runs between a
/// failed dlopen and the dlerror that says why) and falls back to <see cref="NativeLibrary.TryLoad(string, out nint)"/>
/// where libdl is not there. Loaded libraries stay loaded: ONNX Runtime's CUDA provider then finds them.
/// </summary>
public sealed unsafe class NativeLibraryLoader : INativeLibraryLoader
{
    public static readonly NativeLibraryLoader Instance = new();

    private const int RtldLazy = 0x1;
    private const int RtldDiLinkmap = 2;

    private readonly delegate* unmanaged<byte*, int, nint> _dlopen;
    private readonly delegate* unmanaged<byte*> _dlerror;
    private readonly delegate* unmanaged<nint, int, void*, int> _dlinfo;

    private NativeLibraryLoader()
    {
        // glibc 2.34+ has these in libc.so.6 and keeps libdl.so.2 as a stub exporting them; older glibc has
        // them only in libdl.so.2.
        foreach (var name in (string[])["libc.so.6", "libdl.so.2"])
        {
            if (!NativeLibrary.TryLoad(name, out var lib)
                || !NativeLibrary.TryGetExport(lib, "dlopen", out var open)
                || !NativeLibrary.TryGetExport(lib, "dlerror", out var error))
                continue;
            _dlopen = (delegate* unmanaged<byte*, int, nint>)open;
            _dlerror = (delegate* unmanaged<byte*>)error;
            if (NativeLibrary.TryGetExport(lib, "dlinfo", out var info))
                _dlinfo = (delegate* unmanaged<nint, int, void*, int>)info;
            return;
        }
    }

    public NativeLoadResult Load(string soname)
    {
        var clock = Stopwatch.StartNew();
        if (_dlopen == null)
        {
            return NativeLibrary.TryLoad(soname, out var h)
                ? new NativeLoadResult(soname, h, null, null, clock.Elapsed)
                : new NativeLoadResult(soname, 0, null, "not found (NativeLibrary.TryLoad gives no reason)", clock.Elapsed);
        }
        var name = System.Text.Encoding.UTF8.GetBytes(soname + "\0");
        nint handle;
        string? error;
        fixed (byte* p = name)
        {
            _dlerror();
            handle = _dlopen(p, RtldLazy);
            error = handle == 0 ? Marshal.PtrToStringUTF8((nint)_dlerror()) ?? "dlopen failed without a message" : null;
        }
        return new NativeLoadResult(soname, handle, handle == 0 ? null : PathOf(handle), error, clock.Elapsed);
    }

    /// <summary>The file the linker picked: link_map.l_name, the second field after l_addr.</summary>
    private string? PathOf(nint handle)
    {
        if (_dlinfo == null) return null;
        nint linkMap = 0;
        if (_dlinfo(handle, RtldDiLinkmap, &linkMap) != 0 || linkMap == 0) return null;
        var name = Marshal.PtrToStringUTF8(((nint*)linkMap)[1]);
        return string.IsNullOrEmpty(name) ? null : name;
    }

    public ICudaDriverApi? BindCudaDriver(NativeLoadResult libcuda, out string? error) => CudaDriverApi.Bind(libcuda.Handle, out error);

    public NvmlSnapshot? QueryNvml(NativeLoadResult libnvml, out string? error) => Nvml.Query(libnvml.Handle, out error);
}
