namespace Classify.Gpu;

/// <summary>One GPU as seen by the CUDA driver (ordinal after CUDA_VISIBLE_DEVICES), NVML or /proc (node-wide).</summary>
public sealed record GpuInfo(int Index, string Name, long? MemoryBytes, string? ComputeCapability, string Source);

public enum ContainerRuntime { None, Apptainer, Docker, Podman }

/// <summary>The container the process runs in and the evidence for it (an environment variable or a marker file).</summary>
public sealed record ContainerInfo(ContainerRuntime Runtime, string? Evidence)
{
    public static readonly ContainerInfo None = new(ContainerRuntime.None, null);

    public string DisplayName => Runtime switch
    {
        ContainerRuntime.Apptainer => "Singularity/Apptainer",
        ContainerRuntime.Docker => "Docker",
        ContainerRuntime.Podman => "Podman",
        _ => "none",
    };
}

/// <summary>The Slurm job this process belongs to and the GPUs Slurm gave it (null: no GPU in the allocation).</summary>
public sealed record SlurmInfo(string JobId, string? AllocatedGpus, string? AllocationEvidence);

/// <summary>One shared library the GPU path needs, and whether it loads here.</summary>
public sealed record LibraryStatus(string Name, string Purpose, bool Loaded, string? Path, string? Error);

/// <summary>
/// Everything the probe found, and the one diagnosis drawn from it. <see cref="Trace"/> lists each step in
/// the order it was tried, so that a wrong verdict can be traced back to the observation behind it.
/// </summary>
public sealed record GpuReport
{
    public required IReadOnlyList<string> DeviceNodes { get; init; }
    public required string? DriverVersion { get; init; }
    /// <summary>cuDriverGetVersion (e.g. 13000 = CUDA 13.0), or NVML's when libcuda cannot be loaded.</summary>
    public required int? CudaDriverVersion { get; init; }
    public required IReadOnlyList<GpuInfo> Gpus { get; init; }
    public required ContainerInfo Container { get; init; }
    public required SlurmInfo? Slurm { get; init; }
    /// <summary>The raw value; null when the variable is not set at all.</summary>
    public required string? CudaVisibleDevices { get; init; }
    public required IReadOnlyList<LibraryStatus> Libraries { get; init; }
    public required GpuRequirements Requirements { get; init; }
    public required IReadOnlyList<string> Trace { get; init; }
    public required GpuDiagnosis Diagnosis { get; init; }

    /// <summary>NVIDIA hardware shows through device nodes or the kernel module; without it the probe loads nothing.</summary>
    public required bool HardwareVisible { get; init; }

    /// <summary>
    /// Whether classify, left to choose its device, should say why it runs on the CPU. It stays quiet where no
    /// NVIDIA hardware shows at all (a CPU node, a laptop) and where the user hid the GPUs on purpose.
    /// </summary>
    public bool ShouldWarn => HardwareVisible && Diagnosis.Kind is not (GpuDiagnosisKind.Usable or GpuDiagnosisKind.GpusHidden);

    /// <summary>The diagnosis for running on CUDA device <paramref name="gpuIndex"/> (--gpu N).</summary>
    public GpuDiagnosis DiagnosisFor(int gpuIndex)
    {
        if (!Diagnosis.GpuUsable || (gpuIndex >= 0 && gpuIndex < Gpus.Count))
            return Diagnosis;
        var seen = string.Join(", ", Gpus.Select(g => $"{g.Index}: {g.Name}"));
        return GpuDiagnosis.ProviderFailed(
            $"--gpu {gpuIndex} asks for CUDA device {gpuIndex} but {(Gpus.Count == 1 ? "only 1 is" : $"{Gpus.Count} are")} visible ({seen})",
            $"use --gpu 0{(Gpus.Count > 1 ? $"..{Gpus.Count - 1}" : "")} (numbered after CUDA_VISIBLE_DEVICES)");
    }

    /// <summary>The same findings with diagnosis 7: the CUDA execution provider itself failed.</summary>
    public GpuReport WithProviderFailure(string engine, string nativeMessage) => this with
    {
        Diagnosis = GpuDiagnosis.ProviderFailed($"the CUDA execution provider of {engine} failed: {ClassifyException.Fold(nativeMessage)}",
            "`classify doctor --verbose` lists what was found and loaded"),
        Trace = [.. Trace, $"{engine} CUDA provider: {ClassifyException.Fold(nativeMessage)}"],
    };
}
