using System.Globalization;
using System.Text.RegularExpressions;

namespace Classify.Gpu;

/// <summary>
/// Finds out whether a GPU is usable and, when not, the one reason why. Every observation goes through three
/// seams that the real run uses too: the file-system <c>root</c> under which /dev, /proc and the container
/// marker files are read, the environment variables, and the native-library loader.
/// </summary>
/// <remarks>
/// On a machine with no /dev/nvidia* node and no /proc/driver/nvidia the probe loads no library at all: it
/// costs a few stat calls, so a CPU-only start stays fast.
/// </remarks>
public sealed partial class GpuProbe
{
    public const string LibCuda = "libcuda.so.1";
    public const string LibNvml = "libnvidia-ml.so.1";

    private readonly string _root;
    private readonly IReadOnlyDictionary<string, string> _env;
    private readonly INativeLibraryLoader _loader;

    public GpuProbe(string root, IReadOnlyDictionary<string, string> environment, INativeLibraryLoader loader)
    {
        _root = root;
        _env = environment;
        _loader = loader;
    }

    /// <summary>The probe of this machine: the real root and dynamic linker, the run's environment.</summary>
    public static GpuProbe ForThisProcess(RunEnvironment environment) => new("/", environment.Variables, NativeLibraryLoader.Instance);

    /// <summary>
    /// Runs the probe. <paramref name="thorough"/> (doctor) loads every library for the report even when the
    /// verdict is already known; otherwise the probe stops at the first finding that decides the verdict.
    /// </summary>
    public GpuReport Run(GpuRequirements requirements, bool thorough = false)
    {
        var s = new State(requirements);
        s.Container = DetectContainer(s.Trace);
        s.Slurm = DetectSlurm(s.Trace);
        s.CudaVisibleDevices = Env("CUDA_VISIBLE_DEVICES");
        s.Trace.Add(s.CudaVisibleDevices is null ? "CUDA_VISIBLE_DEVICES: not set" : $"CUDA_VISIBLE_DEVICES: \"{s.CudaVisibleDevices}\"");
        s.DeviceNodes = FindDeviceNodes(s.Trace);
        var moduleLoaded = Directory.Exists(Under("/proc/driver/nvidia"));
        s.DriverVersion = ReadDriverVersion(s.Trace);
        s.HardwareVisible = s.DeviceNodes.Count > 0 || moduleLoaded;

        if (!s.HardwareVisible)
        {
            s.Trace.Add("skipped loading the CUDA libraries: no /dev/nvidia* device node and no /proc/driver/nvidia");
            return s.Finish(WithoutHardware(s));
        }

        var early = DecideBeforeLoading(s);
        if (early is not null && !thorough)
            return s.Finish(early);

        var libcuda = LoadTraced(LibCuda, s.Trace);
        ICudaDriverApi? cuda = null;
        string? bindError = null;
        if (libcuda.Loaded)
        {
            cuda = _loader.BindCudaDriver(libcuda, out bindError);
            s.Trace.Add(cuda is null ? $"bind CUDA driver API in {libcuda.Path ?? LibCuda}: {bindError}" : "bind CUDA driver API: ok");
        }
        var initResult = cuda is null ? (int?)null : QueryCuda(cuda, s);
        if (s.Gpus.Count == 0)
            QueryWithoutCuda(s);

        var decidedWithoutLibraries = early ?? DecideOnDriver(s, libcuda, bindError, initResult, cuda);
        if (decidedWithoutLibraries is null || thorough)
        {
            foreach (var (name, purpose) in requirements.Libraries)
            {
                var r = LoadTraced(name, s.Trace);
                s.Libraries.Add(new LibraryStatus(name, purpose, r.Loaded, r.Path, r.Error));
            }
        }
        s.Libraries.Insert(0, new LibraryStatus(LibCuda, "NVIDIA driver (CUDA driver API)", libcuda.Loaded, libcuda.Path, libcuda.Error));
        return s.Finish(decidedWithoutLibraries ?? DecideOnLibraries(s));
    }

    private int QueryCuda(ICudaDriverApi cuda, State s)
    {
        var r = cuda.DriverGetVersion(out var version);
        s.Trace.Add(r == 0 ? $"cuDriverGetVersion: {version} (CUDA {GpuRequirements.CudaVersionText(version)})" : $"cuDriverGetVersion: {cuda.Describe(r)}");
        if (r == 0) s.CudaDriverVersion = version;
        var init = cuda.Init();
        s.Trace.Add($"cuInit(0): {(init == 0 ? "CUDA_SUCCESS" : cuda.Describe(init))}");
        if (init != 0) return init;
        r = cuda.DeviceGetCount(out var count);
        s.Trace.Add(r == 0 ? $"cuDeviceGetCount: {count}" : $"cuDeviceGetCount: {cuda.Describe(r)}");
        for (var i = 0; r == 0 && i < count; i++)
        {
            var name = cuda.DeviceGetName(i, out var n) == 0 ? n : "unknown NVIDIA GPU";
            long? memory = cuda.DeviceTotalMemory(i, out var bytes) == 0 ? bytes : null;
            var cc = cuda.DeviceComputeCapability(i, out var major, out var minor) == 0 ? $"{major}.{minor}" : null;
            s.Gpus.Add(new GpuInfo(i, name, memory, cc, "cuda"));
            s.Trace.Add($"cuda:{i}: {name}, {(memory is long m ? FormatBytes(m) : "memory unknown")}, compute capability {cc ?? "unknown"}");
        }
        return 0;
    }

    /// <summary>Names the GPUs when CUDA cannot: NVML first (memory too), then the kernel module's /proc files.</summary>
    private void QueryWithoutCuda(State s)
    {
        var nvml = LoadTraced(LibNvml, s.Trace);
        if (nvml.Loaded)
        {
            var snapshot = _loader.QueryNvml(nvml, out var error);
            s.Trace.Add(snapshot is null ? $"NVML: {error}" : $"NVML: {snapshot.Gpus.Count} GPU(s), driver {snapshot.DriverVersion ?? "unknown"}");
            if (snapshot is not null)
            {
                s.Gpus.AddRange(snapshot.Gpus);
                s.DriverVersion ??= snapshot.DriverVersion;
                s.CudaDriverVersion ??= snapshot.CudaDriverVersion;
                if (s.Gpus.Count > 0) return;
            }
        }
        var gpusDir = Under("/proc/driver/nvidia/gpus");
        if (!Directory.Exists(gpusDir)) return;
        foreach (var dir in Directory.GetDirectories(gpusDir).Order(StringComparer.Ordinal))
        {
            var info = ReadText(Path.Join(dir, "information"));
            if (info is null) continue;
            var model = ProcField(info, "Model") ?? "unknown NVIDIA GPU";
            var minor = int.TryParse(ProcField(info, "Device Minor"), NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : s.Gpus.Count;
            s.Gpus.Add(new GpuInfo(minor, model, null, null, "proc"));
            s.Trace.Add($"read /proc/driver/nvidia/gpus/{Path.GetFileName(dir)}/information: {model}");
        }
    }

    private static string? ProcField(string text, string key)
    {
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim() == key) return line[(colon + 1)..].Trim();
        }
        return null;
    }

    private NativeLoadResult LoadTraced(string name, List<string> trace)
    {
        var r = _loader.Load(name);
        var ms = r.Elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture);
        trace.Add(r.Loaded ? $"load {name}: loaded from {r.Path ?? "?"} ({ms} ms)" : $"load {name}: failed: {r.Error}");
        return r;
    }

    private ContainerInfo DetectContainer(List<string> trace)
    {
        var found = ContainerDetection.Detect(Env, Under);
        trace.Add(found.Runtime == ContainerRuntime.None ? "container: none found" : $"container: {found.DisplayName} ({found.Evidence})");
        return found;
    }

    /// <summary>Slurm exports these in a job step that holds GPUs (the gres/gpu plugin sets CUDA_VISIBLE_DEVICES too).</summary>
    private static readonly string[] SlurmGpuVariables =
        ["SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "SLURM_GPUS_ON_NODE", "SLURM_GPUS", "SLURM_GPUS_PER_NODE", "SLURM_GPUS_PER_TASK", "CUDA_VISIBLE_DEVICES"];

    private SlurmInfo? DetectSlurm(List<string> trace)
    {
        if (Env("SLURM_JOB_ID") is not { Length: > 0 } job)
        {
            trace.Add("Slurm: not in a job (SLURM_JOB_ID not set)");
            return null;
        }
        foreach (var name in SlurmGpuVariables)
        {
            // SLURM_GPUS_ON_NODE counts GPUs (0 = none); the others list GPU indices, where "0" is the first GPU.
            if (Env(name) is { Length: > 0 } value && !(name == "SLURM_GPUS_ON_NODE" && value == "0"))
            {
                trace.Add($"Slurm: job {job}, GPUs {name}={value}");
                return new SlurmInfo(job, value, name);
            }
        }
        trace.Add($"Slurm: job {job}, no GPU allocated (none of {string.Join(", ", SlurmGpuVariables)} set)");
        return new SlurmInfo(job, null, null);
    }

    private List<string> FindDeviceNodes(List<string> trace)
    {
        var dev = Under("/dev");
        var nodes = Directory.Exists(dev)
            ? Directory.EnumerateFileSystemEntries(dev, "nvidia*").Select(p => "/dev/" + Path.GetFileName(p)).Order(StringComparer.Ordinal).ToList()
            : [];
        trace.Add(nodes.Count == 0 ? "/dev/nvidia*: none" : $"/dev/nvidia*: {string.Join(" ", nodes)}");
        return nodes;
    }

    private string? ReadDriverVersion(List<string> trace)
    {
        var text = ReadText(Under("/proc/driver/nvidia/version"));
        if (text is null)
        {
            trace.Add("/proc/driver/nvidia/version: absent");
            return null;
        }
        var m = KernelModuleVersion().Match(text);
        var version = m.Success ? m.Groups[1].Value : null;
        trace.Add($"/proc/driver/nvidia/version: {(version is null ? "no version found in " + ClassifyException.Fold(text) : "driver " + version)}");
        return version;
    }

    /// <summary>"NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  ..." or the open module's
    /// "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build ...".</summary>
    [GeneratedRegex(@"^NVRM version:.*?Kernel Module\S*(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", RegexOptions.Multiline)]
    private static partial Regex KernelModuleVersion();

    private static string? ReadText(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string Under(string absolute) => _root == "/" ? absolute : Path.Join(_root, absolute);

    private string? Env(string name) => _env.TryGetValue(name, out var v) ? v : null;

    public static string FormatBytes(long bytes) => bytes >= 1L << 30
        ? $"{(bytes / (double)(1L << 30)).ToString("0.#", CultureInfo.InvariantCulture)} GiB"
        : $"{bytes >> 20} MiB";

    private sealed class State(GpuRequirements requirements)
    {
        public GpuRequirements Requirements { get; } = requirements;
        public List<string> Trace { get; } = [];
        public ContainerInfo Container { get; set; } = ContainerInfo.None;
        public SlurmInfo? Slurm { get; set; }
        public string? CudaVisibleDevices { get; set; }
        public List<string> DeviceNodes { get; set; } = [];
        public string? DriverVersion { get; set; }
        public int? CudaDriverVersion { get; set; }
        public bool HardwareVisible { get; set; }
        public List<GpuInfo> Gpus { get; } = [];
        public List<LibraryStatus> Libraries { get; } = [];

        public GpuReport Finish(GpuDiagnosis diagnosis)
        {
            Trace.Add($"diagnosis {diagnosis.Number} ({diagnosis.Kind})");
            return new GpuReport
            {
                DeviceNodes = DeviceNodes,
                DriverVersion = DriverVersion,
                CudaDriverVersion = CudaDriverVersion,
                Gpus = Gpus,
                Container = Container,
                Slurm = Slurm,
                CudaVisibleDevices = CudaVisibleDevices,
                Libraries = Libraries,
                Requirements = Requirements,
                HardwareVisible = HardwareVisible,
                Trace = Trace,
                Diagnosis = diagnosis,
            };
        }
    }
}
