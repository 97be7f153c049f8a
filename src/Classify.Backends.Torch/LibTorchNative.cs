using System.Runtime.InteropServices;
using Classify.Gpu;
using TorchSharp;

namespace Classify.Backends.Torch;

/// <summary>
/// Loads libtorch and TorchSharp's glue library (libLibTorchSharp.so) before TorchSharp's own loader runs, so
/// that a missing or unloadable libtorch becomes one line with <see cref="ExitCode.BackendUnavailable"/> (left to
/// itself, TorchSharp prints a page-long trace to standard output and throws), and so that the process holds one
/// libtorch only: TorchSharp also loads torch_cpu from the app's folder by full path, and a second libtorch in
/// the process aborts it ("Tried to register multiple backend fallbacks").
/// </summary>
/// <remarks>
/// Where libtorch comes from:
/// - a build with <c>-p:ClassifyLibTorch=cpu</c> (the default) carries it beside the app; it is loaded from there
///   by full path, dependencies first, so that a libtorch on <c>LD_LIBRARY_PATH</c> cannot slip in;
/// - otherwise <c>$CLASSIFY_LIBTORCH_DIR</c>: a folder with libtorch.so (a libtorch archive's lib/, or PyTorch's
///   torch/lib), loaded by full path. This is TorchSharp's documented route for a libtorch it does not bundle
///   (NativeLibrary.Load of libtorch.so before the first torch call): the dynamic loader then satisfies
///   libLibTorchSharp.so's dependency on libtorch.so with it;
/// - otherwise the dynamic loader's search (<c>LD_LIBRARY_PATH</c>, ld.so.cache).
/// </remarks>
internal static class LibTorchNative
{
    public const string DirVariable = "CLASSIFY_LIBTORCH_DIR";

    private static readonly Lock Gate = new();
    private static bool _loaded;

    /// <summary>The folder the loaded libtorch_cpu.so came from.</summary>
    public static string? LibTorchDirectory { get; private set; }

    /// <summary>Why a CUDA libtorch beside the loaded one did not load, or null.</summary>
    public static string? CudaProblem { get; private set; }

    /// <summary>Loads the native libraries once per process; throws <see cref="ClassifyException"/> if they cannot load.</summary>
    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (_loaded) return;
            PassiveOpenMpThreads();
            var bundled = BundledDirectory();
            if (Environment.GetEnvironmentVariable(DirVariable) is { Length: > 0 } dir)
            {
                if (bundled is not null)
                    throw new ClassifyException(ExitCode.BackendUnavailable, dir,
                        $"{DirVariable} is set, but this build carries its own libtorch ({bundled}) and a process can hold only one: unset {DirVariable}, or use an install without libtorch (scripts/install.sh without CLASSIFY_LIBTORCH)");
                LoadFromDirectory(dir, ["libtorch.so"]);
            }
            else if (bundled is not null)
            {
                LoadFromDirectory(bundled, [.. Directory.GetFiles(bundled, "libgomp*.so*").Select(Path.GetFileName).OfType<string>(),
                    "libc10.so", "libtorch_cpu.so", "libtorch.so"]);
            }
            IntPtr glue;
            try
            {
                glue = NativeLibrary.Load("LibTorchSharp", typeof(torch).Assembly, null);
            }
            catch (DllNotFoundException e)
            {
                var trace = LoaderTrace(e.Message);
                if (!trace.Contains("GLIBCXX", StringComparison.Ordinal) && bundled is null
                    && LibTorchIdentity.Find(Environment.GetEnvironmentVariable(DirVariable) is { Length: > 0 } d ? d : null) is { } found
                    && !LibTorchIdentity.IsExpected(LibTorchIdentity.Version(found)))
                {
                    throw new ClassifyException(ExitCode.BackendUnavailable, found,
                        $"is {LibTorchIdentity.Describe(found)}, not the {LibTorchIdentity.Expected} that TorchSharp needs: "
                        + $"libLibTorchSharp.so does not load with it ({trace}). Set {DirVariable} to the lib folder of libtorch {LibTorchIdentity.Expected} "
                        + "(or PyTorch 2.10's torch/lib), or take this one off LD_LIBRARY_PATH; see docs/torch.md", e);
                }
                var hint = trace.Contains("GLIBCXX", StringComparison.Ordinal)
                    ? "This host's libstdc++ is older than the one TorchSharp was built for: build or publish on a host like this one, where the build patches libLibTorchSharp.so (docs/torch.md, \"Older hosts\")"
                    : Hint;
                throw new ClassifyException(ExitCode.BackendUnavailable, "libLibTorchSharp.so",
                    $"TorchSharp's native library cannot load: {trace}. {hint}", e);
            }
            LibTorchDirectory = LoadedFrom("libtorch_cpu.so");
            LoadCudaBeside();
            QuietLogging(glue);
            torch.InitializeDeviceType(DeviceType.CPU);
            _loaded = true;
        }
    }

    /// <summary>How many CUDA devices libtorch sees: 0 with a CPU libtorch, without a driver or without a GPU.</summary>
    public static int CudaDeviceCount()
    {
        EnsureLoaded();
        // Without libtorch_cuda.so in the process the libtorch in use has no CUDA; asking TorchSharp anyway would
        // make it look for one by name on the loader path, and mix two libtorch builds.
        if (!IsLoaded("libtorch_cuda.so")) return 0;
        return torch.TryInitializeDeviceType(DeviceType.CUDA) ? torch.cuda.device_count() : 0;
    }

    /// <summary>The folder where this build carries libtorch (a -p:ClassifyLibTorch=cpu build), or null: the
    /// native folders the host probes for this app (from its deps.json), then the app's own folder.</summary>
    private static string? BundledDirectory() =>
        (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") as string ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Append(AppContext.BaseDirectory)
            .FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch_cpu.so")));

    /// <summary>A CUDA libtorch ships libtorch_cuda.so beside libtorch_cpu.so; libtorch.so does not always pull it
    /// in, and it must be loaded before anything asks libtorch about CUDA.</summary>
    private static void LoadCudaBeside()
    {
        if (LibTorchDirectory is null || IsLoaded("libtorch_cuda.so")) return;
        var cuda = Path.Combine(LibTorchDirectory, "libtorch_cuda.so");
        if (!File.Exists(cuda)) return;
        try
        {
            NativeLibrary.Load(cuda);
        }
        catch (DllNotFoundException e)
        {
            // Not fatal: the CPU still works, and --device cuda reports this reason.
            CudaProblem = $"{cuda} does not load: {LoaderTrace(e.Message)}";
        }
    }

    private static bool IsLoaded(string soname)
    {
        var handle = dlopen(soname, RtldLazy | RtldNoLoad);
        if (handle == IntPtr.Zero) return false;
        _ = dlclose(handle); // drops the reference this query took
        return true;
    }

    /// <summary>The folder of a loaded library, from the process's memory map.</summary>
    private static string? LoadedFrom(string fileName) =>
        MappedFile(name => name == fileName) is { } path ? Path.GetDirectoryName(path) : null;

    /// <summary>The path of the first file mapped into the process whose file name <paramref name="matches"/>.</summary>
    internal static string? MappedFile(Func<string, bool> matches)
    {
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(l => l.IndexOf('/') is var i and >= 0 ? l[i..] : "")
                .FirstOrDefault(p => p.Length > 0 && matches(Path.GetFileName(p)));
        }
        catch (IOException)
        {
            return null;
        }
    }

    private const int RtldLazy = 0x1, RtldNoLoad = 0x4;

    // libdl.so.2 exists on every glibc: the real one before 2.34, a compatibility stub after.
    [DllImport("libdl.so.2", CharSet = CharSet.Ansi)]
    private static extern IntPtr dlopen(string fileName, int flags);

    [DllImport("libdl.so.2")]
    private static extern int dlclose(IntPtr handle);

    /// <summary>
    /// libtorch's OpenMP threads spin while they wait for work by default. classify decodes the next batch on
    /// the same cores while the model runs, and HPC nodes are often shared, so spinning threads steal the CPU
    /// they wait for: on a loaded 2-core machine SqueezeNet took 1.5 s per image instead of 0.09 s. OpenMP reads
    /// OMP_WAIT_POLICY from the native environment when libgomp loads; a user's own setting wins.
    /// </summary>
    private static void PassiveOpenMpThreads() => NativeEnvironment.SetDefault("OMP_WAIT_POLICY", "PASSIVE");

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

    /// <summary>What a user can do about a missing libtorch with what they have: the container's build argument or a
    /// bind mount inside an image, the installer's variable outside one (issue 29: not an MSBuild flag).</summary>
    private static string Hint => ContainerDetection.Here().Runtime != ContainerRuntime.None
        ? "This image carries no libtorch: rebuild it with --build-arg LIBTORCH=cpu (or cuda), or bind libtorch 2.10 in and name its lib folder "
          + $"(apptainer exec --bind /opt/libtorch --env {DirVariable}=/opt/libtorch/lib ...); see docs/torch.md"
        : $"This build carries no libtorch: set {DirVariable} to the lib folder of libtorch 2.10 (or PyTorch 2.10's torch/lib), "
          + "or reinstall with CLASSIFY_LIBTORCH=cpu scripts/install.sh; see docs/torch.md";

    /// <summary>Loads <paramref name="names"/> from <paramref name="dir"/> by full path, in order (dependencies first).</summary>
    private static void LoadFromDirectory(string dir, IEnumerable<string> names)
    {
        if (!File.Exists(Path.Combine(dir, "libtorch.so")))
            throw new ClassifyException(ExitCode.BackendUnavailable, dir,
                $"{DirVariable} names a folder without libtorch.so; point it at libtorch's lib folder (or PyTorch's torch/lib)");
        foreach (var name in names)
        {
            var path = Path.Combine(dir, name);
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
