using System.Runtime.InteropServices;
using TorchSharp;

namespace Classify.Backends.Torch;

/// <summary>
/// Loads libtorch and TorchSharp's glue library (libLibTorchSharp.so) before TorchSharp's own loader runs, so
/// that a missing or unloadable libtorch becomes one line with <see cref="ExitCode.BackendUnavailable"/>: left to
/// itself, TorchSharp prints a page-long trace to standard output and throws.
/// </summary>
/// <remarks>
/// Where libtorch comes from, first match wins:
/// 1. <c>$CLASSIFY_LIBTORCH_DIR</c>: a folder with libtorch.so (a libtorch archive's lib/, or PyTorch's
///    torch/lib), loaded by full path. This is TorchSharp's documented route for a libtorch it does not bundle
///    (NativeLibrary.Load of libtorch.so before the first torch call): once loaded, the dynamic loader satisfies
///    libLibTorchSharp.so's dependency on libtorch.so with it.
/// 2. The loader path (<c>LD_LIBRARY_PATH</c>, then libLibTorchSharp.so's own folder): a build with the
///    libtorch-cpu-linux-x64 package (<c>-p:ClassifyLibTorch=cpu</c>, the default) has it beside the app.
/// </remarks>
internal static class LibTorchNative
{
    public const string DirVariable = "CLASSIFY_LIBTORCH_DIR";

    private static readonly Lock Gate = new();
    private static bool _loaded;

    /// <summary>Loads the native libraries once per process; throws <see cref="ClassifyException"/> if they cannot load.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            PassiveOpenMpThreads();
            if (Environment.GetEnvironmentVariable(DirVariable) is { Length: > 0 } dir)
                LoadFromDirectory(dir);
            IntPtr glue;
            try
            {
                glue = NativeLibrary.Load("LibTorchSharp", typeof(torch).Assembly, null);
            }
            catch (DllNotFoundException e)
            {
                var trace = LoaderTrace(e.Message);
                var hint = trace.Contains("GLIBCXX", StringComparison.Ordinal)
                    ? "This host's libstdc++ is older than the one TorchSharp was built for: build or publish on a host like this one, where the build patches libLibTorchSharp.so (docs/torch.md, \"Older hosts\")"
                    : Hint;
                throw new ClassifyException(ExitCode.BackendUnavailable, "libLibTorchSharp.so",
                    $"TorchSharp's native library cannot load: {trace}. {hint}", e);
            }
            QuietLogging(glue);
            torch.InitializeDeviceType(DeviceType.CPU);
            _loaded = true;
        }
    }

    /// <summary>Whether libtorch sees a usable CUDA device, and how many. Only asks libtorch; false on a CPU build.</summary>
    public static int CudaDeviceCount()
    {
        EnsureLoaded();
        // TryInitializeDeviceType also loads libtorch_cuda.so where it is on the loader path.
        return torch.TryInitializeDeviceType(DeviceType.CUDA) ? torch.cuda.device_count() : 0;
    }

    /// <summary>
    /// libtorch's OpenMP threads spin while they wait for work by default. classify decodes the next batch on
    /// the same cores while the model runs, and HPC nodes are often shared, so spinning threads steal the CPU
    /// they wait for: on a loaded 2-core machine SqueezeNet took 1.5 s per image instead of 0.09 s. OpenMP reads
    /// OMP_WAIT_POLICY from the native environment when libgomp loads (hence setenv, not
    /// Environment.SetEnvironmentVariable, which native code does not see); a user's own setting wins.
    /// </summary>
    private static void PassiveOpenMpThreads()
    {
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not { Length: > 0 })
            _ = setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int setenv(string name, string value, int overwrite);

    /// <summary>
    /// libtorch logs warnings to stderr, some once per convolution ("Could not initialize NNPACK! Reason:
    /// Unsupported hardware" on CPUs without AVX2), which would bury classify's one-line messages. Only errors are
    /// logged unless the user sets TORCH_CPP_LOG_LEVEL, which libtorch outside Python reads only when
    /// c10::initLogging() runs. The symbols are looked up through libLibTorchSharp.so's dependencies (libc10.so).
    /// </summary>
    private static void QuietLogging(IntPtr glue)
    {
        if (Environment.GetEnvironmentVariable("TORCH_CPP_LOG_LEVEL") is { Length: > 0 })
        {
            if (NativeLibrary.TryGetExport(glue, "_ZN3c1011initLoggingEv", out var init))
                Marshal.GetDelegateForFunctionPointer<Action>(init)();
        }
        else if (NativeLibrary.TryGetExport(glue, "FLAGS_caffe2_log_level", out var level))
        {
            Marshal.WriteInt32(level, 2); // c10's ERROR
        }
    }

    private const string Hint =
        "Use a build with libtorch (-p:ClassifyLibTorch=cpu), or set " + DirVariable +
        " to the lib folder of libtorch 2.10 (CPU or CUDA archive, or PyTorch's torch/lib); see docs/torch.md";

    private static void LoadFromDirectory(string dir)
    {
        var main = Path.Combine(dir, "libtorch.so");
        if (!File.Exists(main))
            throw new ClassifyException(ExitCode.BackendUnavailable, dir,
                $"{DirVariable} names a folder without libtorch.so; point it at libtorch's lib folder (or PyTorch's torch/lib)");
        // libtorch_cuda.so first where it exists: a libtorch.so linked with --as-needed may not pull it in,
        // and without it libtorch reports no CUDA device.
        foreach (var name in new[] { "libtorch_cuda.so", "libtorch.so" })
        {
            var path = Path.Combine(dir, name);
            if (!File.Exists(path)) continue;
            try
            {
                NativeLibrary.Load(path);
            }
            catch (DllNotFoundException e)
            {
                throw new ClassifyException(ExitCode.BackendUnavailable, path, $"cannot load: {LoaderTrace(e.Message)}. {Hint}", e);
            }
        }
    }

    /// <summary>The dynamic loader's own words from .NET's message, one line. .NET prefixes them with a general
    /// sentence and lists one line per file name it tried; the names it tried that do not exist are noise beside
    /// the line that says why the one that exists did not load (a missing libtorch.so, a GLIBCXX version).</summary>
    internal static string LoaderTrace(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Skip(1).Where(l => l.Contains(": ", StringComparison.Ordinal)).Distinct().ToList();
        var causes = lines.Where(l => !(l.Contains("LibTorchSharp", StringComparison.Ordinal) && l.EndsWith("No such file or directory", StringComparison.Ordinal))).ToList();
        var chosen = causes.Count > 0 ? causes : lines;
        return chosen.Count > 0 ? string.Join("; ", chosen) : ClassifyException.Fold(message);
    }
}
