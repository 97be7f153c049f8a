using Classify.Gpu;
using Xunit;

namespace Classify.Tests.Gpu;

public sealed class GpuReportTests : IDisposable
{
    private readonly FakeMachine _m = new();

    public void Dispose() => _m.Dispose();

    [Fact]
    public void ProviderFailure_IsDiagnosis7_WithTheNativeMessageOnOneLine()
    {
        _m.GpuHardware().WorkingCuda();

        var r = _m.Probe().WithProviderFailure("ONNX Runtime 1.31",
            "[ErrorCode:RuntimeException] CUDA failure 999: unknown error ;\nGPU=0 ; hostname=node17 ; expr=cudaSetDevice(info_.device_id);");

        Assert.Equal(GpuDiagnosisKind.ProviderFailed, r.Diagnosis.Kind);
        Assert.Equal("warning: the CUDA execution provider of ONNX Runtime 1.31 failed: [ErrorCode:RuntimeException] CUDA failure 999: "
            + "unknown error ; GPU=0 ; hostname=node17 ; expr=cudaSetDevice(info_.device_id);; `classify doctor --verbose` lists what "
            + "was found and loaded. Running on the CPU.", r.Diagnosis.WarningLine);
        Assert.True(r.ShouldWarn);
    }

    [Fact]
    public void GpuIndexBeyondTheVisibleOnes_IsDiagnosis7()
    {
        _m.GpuHardware().WorkingCuda();

        var d = _m.Probe().DiagnosisFor(2);

        Assert.Equal(GpuDiagnosisKind.ProviderFailed, d.Kind);
        Assert.Equal("--gpu 2 asks for CUDA device 2 but only 1 is visible (0: NVIDIA H200)", d.Problem);
    }

    [Fact]
    public void GpuIndexInRange_KeepsTheVerdict()
    {
        _m.GpuHardware().WorkingCuda(new FakeCuda { Devices = [("NVIDIA H100", 1L << 36), ("NVIDIA H100", 1L << 36)] });

        Assert.True(_m.Probe().DiagnosisFor(1).GpuUsable);
    }

    [Fact]
    public void RequiredGpu_ErrorMessageCarriesProblemAndFix()
    {
        _m.Set("SLURM_JOB_ID", "77");

        Assert.Equal("a GPU is required but not usable: this Slurm job (77) has no GPU allocated; request one with --gres=gpu:1 "
            + "(or --gpus=1) in sbatch/srun, on a partition with GPUs", _m.Probe().Diagnosis.ErrorMessage);
    }
}
