namespace Classify.Gpu;

/// <summary>The probe's verdicts: from what it found, the one reason a GPU is not usable and what to do about it,
/// worded for the machine it runs on (a container, a Slurm job, a host without a driver).</summary>
public sealed partial class GpuProbe
{
    private GpuDiagnosis WithoutHardware(State s)
    {
        if (s.Slurm is { AllocatedGpus: null } slurm)
            return SlurmNoGpu(slurm, hardware: false);
        // The host's kernel module shows through in /proc/driver/nvidia even when the container has no devices (see
        // DecideBeforeLoading): without it the host itself has no NVIDIA driver, and --gpus all would only fail there.
        if (s.Container.Runtime is ContainerRuntime.Docker or ContainerRuntime.Podman)
            return new GpuDiagnosis(GpuDiagnosisKind.NoGpu,
                $"no NVIDIA GPU: this {s.Container.DisplayName} container has no /dev/nvidia* and its host no NVIDIA driver",
                $"run on the CPU (--device cpu) or on a host with an NVIDIA GPU; {GpuFlag(s.Container)} would not help on this host");
        return new GpuDiagnosis(GpuDiagnosisKind.NoGpu, "no NVIDIA GPU found (no /dev/nvidia*, no /proc/driver/nvidia)",
            "run on the CPU (--device cpu) or on a machine or node with an NVIDIA GPU");
    }

    /// <summary>The verdicts that the environment and the file system alone decide.</summary>
    private static GpuDiagnosis? DecideBeforeLoading(State s)
    {
        if (CudaVisibleDevicesHidesAll(s.CudaVisibleDevices))
            return new GpuDiagnosis(GpuDiagnosisKind.GpusHidden,
                $"CUDA_VISIBLE_DEVICES=\"{s.CudaVisibleDevices}\" hides every GPU on purpose",
                "unset CUDA_VISIBLE_DEVICES or set it to the GPUs to use (e.g. CUDA_VISIBLE_DEVICES=0)");
        if (s.Slurm is { AllocatedGpus: null } slurm)
            return SlurmNoGpu(slurm, hardware: true);
        if (s.Container.Runtime is ContainerRuntime.Docker or ContainerRuntime.Podman && s.DeviceNodes.Count == 0)
            return new GpuDiagnosis(GpuDiagnosisKind.ContainerWithoutGpus,
                $"an NVIDIA GPU is present on the host{DriverSuffix(s)} but this {s.Container.DisplayName} container has no /dev/nvidia* device",
                ContainerFix(s.Container));
        return null;
    }

    private static GpuDiagnosis? DecideOnDriver(State s, NativeLoadResult libcuda, string? bindError, int? initResult, ICudaDriverApi? cuda)
    {
        if (!libcuda.Loaded)
        {
            return s.Container.Runtime switch
            {
                ContainerRuntime.Apptainer => new GpuDiagnosis(GpuDiagnosisKind.ContainerWithoutNv,
                    $"an NVIDIA GPU is present{DriverSuffix(s)} but its driver libraries are not visible inside this Singularity/Apptainer container",
                    "add --nv (singularity exec --nv ...)"),
                ContainerRuntime.Docker or ContainerRuntime.Podman => new GpuDiagnosis(GpuDiagnosisKind.ContainerWithoutGpus,
                    $"this {s.Container.DisplayName} container has the NVIDIA devices but not the driver library {LibCuda} ({libcuda.Error})",
                    ContainerFix(s.Container)),
                _ => new GpuDiagnosis(GpuDiagnosisKind.LibrariesMissing,
                    $"an NVIDIA GPU is present{DriverSuffix(s)} but the driver library {LibCuda} cannot be loaded ({libcuda.Error})",
                    "install the NVIDIA driver's user-space libraries that match the kernel module, or add their directory to LD_LIBRARY_PATH"),
            };
        }
        if (cuda is null)
            return GpuDiagnosis.ProviderFailed($"{libcuda.Path ?? LibCuda} is not a usable CUDA driver: {bindError}",
                "check which libcuda.so.1 comes first on LD_LIBRARY_PATH (`classify doctor --verbose`)");
        if (s.CudaDriverVersion is int v && v < s.Requirements.MinCudaDriverVersion)
            return new GpuDiagnosis(GpuDiagnosisKind.DriverTooOld,
                $"the NVIDIA driver{(s.DriverVersion is null ? "" : " " + s.DriverVersion)} supports CUDA {GpuRequirements.CudaVersionText(v)} but {s.Requirements.Engine} needs CUDA {GpuRequirements.CudaVersionText(s.Requirements.MinCudaDriverVersion)}",
                $"use a node whose NVIDIA driver supports CUDA {GpuRequirements.CudaVersionText(s.Requirements.MinCudaDriverVersion)} (580 or newer), or ask the administrators to update it");
        if (initResult is int r && r != 0)
            return GpuDiagnosis.ProviderFailed($"the CUDA driver did not initialise: cuInit returned {cuda.Describe(r)}",
                $"check `nvidia-smi` on this node{(s.CudaVisibleDevices is null ? "" : $" and CUDA_VISIBLE_DEVICES=\"{s.CudaVisibleDevices}\"")}");
        if (s.Gpus.Count == 0 || s.Gpus[0].Source != "cuda")
            return GpuDiagnosis.ProviderFailed(
                $"the CUDA driver sees no device{(s.CudaVisibleDevices is null ? "" : $" (CUDA_VISIBLE_DEVICES=\"{s.CudaVisibleDevices}\")")}",
                "check `nvidia-smi` on this node and the GPU indices in CUDA_VISIBLE_DEVICES");
        return null;
    }

    private static GpuDiagnosis DecideOnLibraries(State s)
    {
        var missing = s.Libraries.Where(l => !l.Loaded).ToList();
        if (missing.Count > 0)
            return new GpuDiagnosis(GpuDiagnosisKind.LibrariesMissing,
                $"the NVIDIA driver works{DriverSuffix(s)} but {s.Requirements.Engine} cannot load {string.Join(", ", missing.Select(l => $"{l.Name} ({l.Purpose})"))}",
                "install them or add their directories to LD_LIBRARY_PATH (e.g. `module load cuda/13 cudnn/9`, or pip's nvidia-cuda-runtime, nvidia-cublas and nvidia-cudnn-cu13 packages)");
        var g = s.Gpus[0];
        var more = s.Gpus.Count > 1 ? $" (+{s.Gpus.Count - 1} more)" : "";
        return GpuDiagnosis.Usable($"{g.Name} (cuda:{g.Index}{(g.MemoryBytes is long m ? ", " + FormatBytes(m) : "")}){more}{DriverSuffix(s)}, CUDA execution through {s.Requirements.Engine}");
    }

    private static GpuDiagnosis SlurmNoGpu(SlurmInfo slurm, bool hardware) => new(GpuDiagnosisKind.SlurmNoGpu,
        $"this Slurm job ({slurm.JobId}) has no GPU allocated{(hardware ? " although this node has NVIDIA GPUs" : "")}",
        "request one with --gres=gpu:1 (or --gpus=1) in sbatch/srun, on a partition with GPUs");

    private static string GpuFlag(ContainerInfo c) => c.Runtime == ContainerRuntime.Podman ? "--device nvidia.com/gpu=all" : "--gpus all";

    private static string ContainerFix(ContainerInfo c) => c.Runtime == ContainerRuntime.Podman
        ? "run it with --device nvidia.com/gpu=all (NVIDIA Container Toolkit, CDI)"
        : "run it with --gpus all (needs the NVIDIA Container Toolkit on the host)";

    private static string DriverSuffix(State s)
    {
        var parts = new List<string>();
        if (s.DriverVersion is not null) parts.Add($"driver {s.DriverVersion}");
        if (s.CudaDriverVersion is int v) parts.Add($"CUDA {GpuRequirements.CudaVersionText(v)}");
        return parts.Count == 0 ? "" : $" ({string.Join(", ", parts)})";
    }

    /// <summary>Empty, a leading negative index or Slurm's "NoDevFiles" make the CUDA runtime see no device.</summary>
    public static bool CudaVisibleDevicesHidesAll(string? value)
    {
        if (value is null) return false;
        var first = value.Split(',')[0].Trim();
        return first.Length == 0
            || first.StartsWith('-')
            || first.Equals("NoDevFiles", StringComparison.OrdinalIgnoreCase);
    }
}
