using Classify.Gpu;
using Xunit;

namespace Classify.Tests.Gpu;

public sealed class GpuProbeTests : IDisposable
{
    private readonly FakeMachine _m = new();

    public void Dispose() => _m.Dispose();

    // Diagnosis 8: a plain CPU machine.

    [Fact]
    public void NoNvidiaHardware_IsDiagnosis8_WithoutLoadingAnyLibrary()
    {
        _m.Loader.ForbidLoading();

        var r = _m.Probe(thorough: true);

        Assert.Equal(GpuDiagnosisKind.NoGpu, r.Diagnosis.Kind);
        Assert.False(r.HardwareVisible);
    }

    [Fact]
    public void NoNvidiaHardware_StaysQuiet()
    {
        _m.Loader.ForbidLoading();

        Assert.False(_m.Probe().ShouldWarn);
    }

    // Diagnosis 1: Singularity/Apptainer without --nv.

    [Fact]
    public void ApptainerWithoutNv_IsDiagnosis1_WithTheIssuesWording()
    {
        _m.GpuHardware().Set("APPTAINER_CONTAINER", "/scratch/classifier.sif");
        _m.Loader.Missing(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.ContainerWithoutNv, r.Diagnosis.Kind);
        Assert.Equal("warning: an NVIDIA GPU is present (driver 580.159.04) but its driver libraries are not visible inside this "
            + "Singularity/Apptainer container; add --nv (singularity exec --nv ...). Running on the CPU.", r.Diagnosis.WarningLine);
        Assert.True(r.ShouldWarn);
    }

    [Fact]
    public void SingularityDirectoryAlone_MarksTheContainer()
    {
        _m.GpuHardware().Dir("/.singularity.d");
        _m.Loader.Missing(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.ContainerWithoutNv, r.Diagnosis.Kind);
        Assert.Equal("/.singularity.d exists", r.Container.Evidence);
    }

    [Fact]
    public void ApptainerWithNv_IsUsable()
    {
        _m.GpuHardware().WorkingCuda().Set("SINGULARITY_CONTAINER", "/scratch/classifier.sif");

        Assert.Equal(GpuDiagnosisKind.Usable, _m.Probe().Diagnosis.Kind);
    }

    // Diagnosis 2: Docker/Podman without --gpus.

    [Fact]
    public void DockerOnCpuHost_IsNoGpu_Quietly_WithoutLoading_AndDoesNotAdviseGpusAll()
    {
        // No /proc/driver/nvidia either: the host has no NVIDIA driver, so --gpus all would fail there.
        _m.File("/.dockerenv");
        _m.Loader.ForbidLoading();

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.NoGpu, r.Diagnosis.Kind);
        Assert.Contains("its host no NVIDIA driver", r.Diagnosis.Problem);
        Assert.EndsWith("--gpus all would not help on this host", r.Diagnosis.Fix);
        Assert.DoesNotContain("run it with --gpus all", r.Diagnosis.Fix);
        // Issue 29: the --device cuda error is one short line, not ~390 characters.
        Assert.True(("classify: " + r.Diagnosis.ErrorMessage).Length <= 240, r.Diagnosis.ErrorMessage);
        Assert.False(r.ShouldWarn);
    }

    [Fact]
    public void DockerOnGpuHostWithoutGpus_IsDiagnosis2_AndWarns()
    {
        // Docker masks no /proc/driver entry: the host's kernel module shows, its /dev/nvidia* nodes do not.
        _m.File("/.dockerenv").KernelModule();
        _m.Loader.ForbidLoading();

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.ContainerWithoutGpus, r.Diagnosis.Kind);
        Assert.Contains("driver 580.159.04", r.Diagnosis.Problem);
        Assert.True(r.ShouldWarn);
    }

    [Fact]
    public void DockerWithDevicesButNoDriverLibrary_IsDiagnosis2()
    {
        _m.File("/.dockerenv").GpuHardware();
        _m.Loader.Missing(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.ContainerWithoutGpus, r.Diagnosis.Kind);
        Assert.Contains("libcuda.so.1", r.Diagnosis.Problem);
    }

    [Fact]
    public void Podman_GetsTheCdiFix()
    {
        _m.File("/run/.containerenv").KernelModule();

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.ContainerWithoutGpus, r.Diagnosis.Kind);
        Assert.Contains("--device nvidia.com/gpu=all", r.Diagnosis.Fix);
    }

    // Diagnosis 3: a Slurm job without a GPU.

    [Fact]
    public void SlurmJobWithoutGpuOnCpuNode_IsDiagnosis3_Quietly_WithoutLoading()
    {
        _m.Set("SLURM_JOB_ID", "4242");
        _m.Loader.ForbidLoading();

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.SlurmNoGpu, r.Diagnosis.Kind);
        Assert.Contains("(4242)", r.Diagnosis.Problem);
        Assert.Contains("--gres=gpu:1", r.Diagnosis.Fix);
        Assert.False(r.ShouldWarn);
    }

    [Fact]
    public void SlurmJobWithoutGpuOnGpuNode_IsDiagnosis3_AndWarns()
    {
        _m.GpuHardware().Set("SLURM_JOB_ID", "4242");
        _m.Loader.ForbidLoading();

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.SlurmNoGpu, r.Diagnosis.Kind);
        Assert.True(r.ShouldWarn);
    }

    [Fact]
    public void SlurmJobWithAllocatedGpu_IsUsable()
    {
        _m.GpuHardware().WorkingCuda().Set("SLURM_JOB_ID", "4242").Set("SLURM_JOB_GPUS", "0");

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.Usable, r.Diagnosis.Kind);
        Assert.Equal("0", r.Slurm!.AllocatedGpus);
    }

    // Diagnosis 4: CUDA_VISIBLE_DEVICES hides the GPUs.

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("NoDevFiles")]
    public void HiddenByCudaVisibleDevices_IsDiagnosis4_Quietly(string value)
    {
        _m.GpuHardware().Set("CUDA_VISIBLE_DEVICES", value);
        _m.Loader.ForbidLoading();

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.GpusHidden, r.Diagnosis.Kind);
        Assert.Contains($"CUDA_VISIBLE_DEVICES=\"{value}\"", r.Diagnosis.Problem);
        Assert.False(r.ShouldWarn);
    }

    [Fact]
    public void CudaVisibleDevicesNamingAGpu_IsUsable()
    {
        _m.GpuHardware().WorkingCuda().Set("CUDA_VISIBLE_DEVICES", "GPU-5f3c0b1e");

        Assert.Equal(GpuDiagnosisKind.Usable, _m.Probe().Diagnosis.Kind);
    }

    // Diagnosis 5: a driver too old for CUDA 13.

    [Fact]
    public void DriverForCuda12_IsDiagnosis5_NamingBothVersions()
    {
        _m.GpuHardware("535.104.05").WorkingCuda(new FakeCuda { Version = 12020 });

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.DriverTooOld, r.Diagnosis.Kind);
        Assert.Contains("driver 535.104.05 supports CUDA 12.2 but ONNX Runtime 1.31 needs CUDA 13.0", r.Diagnosis.Problem);
    }

    // Diagnosis 6: libraries missing.

    [Fact]
    public void MissingCudnnAndCublas_IsDiagnosis6_NamingEach()
    {
        _m.GpuHardware().WorkingCuda();
        _m.Loader.Missing("libcudnn.so.9").Missing("libcublas.so.13");

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.LibrariesMissing, r.Diagnosis.Kind);
        Assert.Contains("cannot load libcublas.so.13 (cuBLAS 13), libcudnn.so.9 (cuDNN 9)", r.Diagnosis.Problem);
        Assert.DoesNotContain("libcudart", r.Diagnosis.Problem);
    }

    [Fact]
    public void MissingLibrary_KeepsTheLinkersReason()
    {
        _m.GpuHardware().WorkingCuda();
        _m.Loader.Missing("libcudnn.so.9", "libcudnn.so.9: cannot open shared object file: No such file or directory");

        var cudnn = _m.Probe().Libraries.Single(l => l.Name == "libcudnn.so.9");

        Assert.False(cudnn.Loaded);
        Assert.Equal("libcudnn.so.9: cannot open shared object file: No such file or directory", cudnn.Error);
    }

    [Fact]
    public void BareHostWithoutLibcuda_IsDiagnosis6()
    {
        _m.GpuHardware();
        _m.Loader.Missing(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.LibrariesMissing, r.Diagnosis.Kind);
        Assert.Contains("libcuda.so.1", r.Diagnosis.Problem);
    }

    // Diagnosis 7: CUDA fails for another reason.

    [Fact]
    public void CuInitFailure_IsDiagnosis7_WithTheDriversMessage()
    {
        _m.GpuHardware().WorkingCuda(new FakeCuda { InitResult = 803 });
        _m.Loader.Missing(GpuProbe.LibNvml);

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.ProviderFailed, r.Diagnosis.Kind);
        Assert.Contains("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803): system has unsupported display driver / cuda driver combination", r.Diagnosis.Problem);
    }

    [Fact]
    public void LibcudaWithoutTheDriverApi_IsDiagnosis7()
    {
        _m.GpuHardware();
        _m.Loader.Present(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);

        var r = _m.Probe();

        Assert.Equal(GpuDiagnosisKind.ProviderFailed, r.Diagnosis.Kind);
        Assert.Contains("missing symbol(s) cuInit", r.Diagnosis.Problem);
    }

    // A usable GPU.

    [Fact]
    public void WorkingCuda_IsUsable_WithNameAndMemory()
    {
        _m.GpuHardware().WorkingCuda();

        var r = _m.Probe();

        Assert.True(r.Diagnosis.GpuUsable);
        Assert.Equal(new GpuInfo(0, "NVIDIA H200", 150_110_011_392L, "9.0", "cuda"), Assert.Single(r.Gpus));
        Assert.Equal(13000, r.CudaDriverVersion);
        Assert.Equal("580.159.04", r.DriverVersion);
        Assert.StartsWith("NVIDIA H200 (cuda:0, 139.8 GiB) (driver 580.159.04, CUDA 13.0)", r.Diagnosis.Problem);
    }

    [Fact]
    public void WorkingCuda_ReportsEachLibraryLoaded()
    {
        _m.GpuHardware().WorkingCuda();

        var r = _m.Probe();

        Assert.Equal(["libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10", "libcudnn.so.9"],
            r.Libraries.Select(l => l.Name));
        Assert.All(r.Libraries, l => Assert.True(l.Loaded));
    }

    [Fact]
    public void EveryStep_IsTraced()
    {
        _m.GpuHardware().WorkingCuda();

        var trace = _m.Probe().Trace;

        Assert.Contains("/dev/nvidia*: /dev/nvidia-uvm /dev/nvidia0 /dev/nvidiactl", trace);
        Assert.Contains("/proc/driver/nvidia/version: driver 580.159.04", trace);
        Assert.Contains("load libcuda.so.1: loaded from /usr/lib/x86_64-linux-gnu/libcuda.so.1 (1 ms)", trace);
        Assert.Contains("cuDriverGetVersion: 13000 (CUDA 13.0)", trace);
        Assert.Contains("cuInit(0): CUDA_SUCCESS", trace);
        Assert.Equal("diagnosis 0 (Usable)", trace[^1]);
    }

    // What the probe reads besides CUDA.

    [Fact]
    public void OpenKernelModuleVersionLine_IsParsed()
    {
        _m.File("/proc/driver/nvidia/version",
            "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22-I3-AM25-29-1)  Thu Oct 30 2025\n");
        _m.Loader.Missing(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);

        Assert.Equal("580.159.04", _m.Probe().DriverVersion);
    }

    [Fact]
    public void WithoutLibcuda_NvmlNamesTheGpus()
    {
        _m.GpuHardware().Set("APPTAINER_NAME", "classifier.sif");
        _m.Loader.Missing(GpuProbe.LibCuda).ProvideNvml(new NvmlSnapshot("580.159.04", 13000, [new GpuInfo(0, "NVIDIA H200", 150_110_011_392L, null, "nvml")]));

        var r = _m.Probe();

        Assert.Equal("NVIDIA H200", Assert.Single(r.Gpus).Name);
        Assert.Equal(13000, r.CudaDriverVersion);
    }

    [Fact]
    public void WithoutLibcudaOrNvml_ProcNamesTheGpus()
    {
        _m.GpuHardware().Set("APPTAINER_NAME", "classifier.sif")
            .File("/proc/driver/nvidia/gpus/0000:19:00.0/information",
                "Model: \t\t NVIDIA H200\nIRQ:   \t\t 17\nGPU UUID: \t GPU-5f3c0b1e\nBus Location: \t 0000:19:00.0\nDevice Minor: \t 0\n");
        _m.Loader.Missing(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);

        Assert.Equal(new GpuInfo(0, "NVIDIA H200", null, null, "proc"), Assert.Single(_m.Probe().Gpus));
    }

    [Fact]
    public void QuickProbe_StopsAtAVerdictTheEnvironmentDecides()
    {
        _m.GpuHardware().Set("CUDA_VISIBLE_DEVICES", "-1");
        _m.Loader.ForbidLoading();

        Assert.Empty(_m.Probe(thorough: false).Libraries);
    }

    [Fact]
    public void ThoroughProbe_LoadsEverythingForTheReport_KeepingTheVerdict()
    {
        _m.GpuHardware().WorkingCuda().Set("CUDA_VISIBLE_DEVICES", "-1");

        var r = _m.Probe(thorough: true);

        Assert.Equal(GpuDiagnosisKind.GpusHidden, r.Diagnosis.Kind);
        Assert.Equal(6, r.Libraries.Count);
    }
}
