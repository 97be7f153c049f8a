namespace Classify.Tests.Commands;

/// <summary>
/// The real classify process on fake GPU nodes (see <see cref="FakeGpuNamespace"/>): the probe reads the same
/// /dev, /proc and environment it would read on a cluster, and dlopen really fails to find libcuda.so.1.
/// </summary>
public sealed class ClassifyCommandGpuTests
{
    private const string NvWarning = "classify: warning: an NVIDIA GPU is present (driver 580.159.04) but its driver libraries are not visible "
        + "inside this Singularity/Apptainer container; add --nv (singularity exec --nv ...). Running on the CPU.";

    private static readonly string[] Photos = ["--image_file", TestData.Chelsea, "--image_file", TestData.Coffee];

    private static readonly Lazy<ProcessResult> Reference = new(() => ClassifyProcess.Run(Photos));

    private static FakeGpuNamespace ApptainerWithoutNv() => new()
    {
        DeviceNodes = true,
        KernelModule = true,
        Env = { ["APPTAINER_CONTAINER"] = "/scratch/classifier.sif", ["APPTAINER_NAME"] = "classifier.sif" },
    };

    [NamespaceFact]
    public void Apptainer_without_nv_warns_once_on_stderr()
    {
        var r = ApptainerWithoutNv().Run(Photos);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal([NvWarning], FakeGpuNamespace.Lines(r.Stderr));
    }

    [NamespaceFact]
    public void Apptainer_without_nv_still_prints_the_same_predictions()
    {
        var r = ApptainerWithoutNv().Run(Photos);

        Assert.Equal(0, Reference.Value.ExitCode);
        Assert.Contains("Egyptian cat (score = ", r.Stdout);
        Assert.Equal(Reference.Value.Stdout, r.Stdout);
    }

    [NamespaceFact]
    public void Apptainer_without_nv_and_require_gpu_exits_20_with_the_diagnosis()
    {
        var r = ApptainerWithoutNv().Run([.. Photos, "--require-gpu"]);

        Assert.Equal(ExitCode.GpuUnavailable, r.ExitCode);
        Assert.Equal(["classify: a GPU is required but not usable: an NVIDIA GPU is present (driver 580.159.04) but its driver "
            + "libraries are not visible inside this Singularity/Apptainer container; add --nv (singularity exec --nv ...)"], FakeGpuNamespace.Lines(r.Stderr));
        Assert.Empty(r.Stdout);
    }

    [NamespaceFact]
    public void Apptainer_without_nv_and_device_cuda_exits_20()
    {
        Assert.Equal(ExitCode.GpuUnavailable, ApptainerWithoutNv().Run([.. Photos, "--device", "cuda"]).ExitCode);
    }

    [NamespaceFact]
    public void Device_cpu_probes_nothing_and_stays_quiet()
    {
        var r = ApptainerWithoutNv().Run([.. Photos, "--device", "cpu"]);

        Assert.Equal(0, r.ExitCode);
        Assert.Empty(r.Stderr);
        Assert.Equal(Reference.Value.Stdout, r.Stdout);
    }

    [NamespaceFact]
    public void Container_without_gpus_on_a_gpu_host_warns_with_the_container_fix()
    {
        // Podman's marker lives under /run, which the namespace owns; the host's driver shows through /proc.
        var r = new FakeGpuNamespace { KernelModule = true, PodmanMarker = true }.Run(Photos);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(["classify: warning: an NVIDIA GPU is present on the host (driver 580.159.04) but this Podman container has no "
            + "/dev/nvidia* device; run it with --device nvidia.com/gpu=all (NVIDIA Container Toolkit, CDI). Running on the CPU."], FakeGpuNamespace.Lines(r.Stderr));
        Assert.Equal(Reference.Value.Stdout, r.Stdout);
    }

    [NamespaceFact]
    public void Slurm_job_without_gpu_on_a_cpu_node_is_quiet()
    {
        var r = new FakeGpuNamespace { Env = { ["SLURM_JOB_ID"] = "4242" } }.Run(Photos);

        Assert.Equal(0, r.ExitCode);
        Assert.Empty(r.Stderr);
        Assert.Equal(Reference.Value.Stdout, r.Stdout);
    }

    [NamespaceFact]
    public void Slurm_job_without_gpu_and_require_gpu_asks_for_gres()
    {
        var r = new FakeGpuNamespace { Env = { ["SLURM_JOB_ID"] = "4242" } }.Run([.. Photos, "--require-gpu"]);

        Assert.Equal(ExitCode.GpuUnavailable, r.ExitCode);
        Assert.Equal(["classify: a GPU is required but not usable: this Slurm job (4242) has no GPU allocated; request one with "
            + "--gres=gpu:1 (or --gpus=1) in sbatch/srun, on a partition with GPUs"], FakeGpuNamespace.Lines(r.Stderr));
    }

    [NamespaceFact]
    public void Cpu_machine_says_nothing_about_gpus_unless_verbose()
    {
        var ns = new FakeGpuNamespace();

        Assert.Empty(ns.Run(Photos).Stderr);
        Assert.Contains(FakeGpuNamespace.Lines(ns.Run([.. Photos, "--verbose"]).Stderr), l => l.StartsWith("classify: GPU: ", StringComparison.Ordinal));
    }
}
