using System.Text.Json;
using Classify.Gpu;
using Xunit;

namespace Classify.Tests.Gpu;

public sealed class GpuReportFormatterTests : IDisposable
{
    private readonly FakeMachine _m = new();

    public void Dispose() => _m.Dispose();

    [Fact]
    public void Text_EndsWithOneVerdictLineHoldingTheFix()
    {
        _m.GpuHardware().Set("APPTAINER_CONTAINER", "/x.sif");
        _m.Loader.Missing(GpuProbe.LibCuda).Missing(GpuProbe.LibNvml);

        var lines = GpuReportFormatter.Text(_m.Probe(), "CPUExecutionProvider", verbose: false).TrimEnd('\n').Split('\n');

        Assert.Equal("verdict: no usable GPU: an NVIDIA GPU is present (driver 580.159.04) but its driver libraries are not visible "
            + "inside this Singularity/Apptainer container; add --nv (singularity exec --nv ...).", lines[^1]);
        Assert.Single(lines, l => l.StartsWith("verdict:", StringComparison.Ordinal));
    }

    [Fact]
    public void Text_ListsEachLibraryWithItsState()
    {
        _m.GpuHardware().WorkingCuda();
        _m.Loader.Missing("libcudnn.so.9");

        var text = GpuReportFormatter.Text(_m.Probe(), "CPUExecutionProvider", verbose: false);

        Assert.Contains("libcudnn.so.9      MISSING libcudnn.so.9: cannot open shared object file: No such file or directory", text);
        Assert.Contains("libcudart.so.13    loaded  /usr/lib/x86_64-linux-gnu/libcudart.so.13", text);
    }

    [Fact]
    public void Text_ShowsTheStepsOnlyWhenVerbose()
    {
        _m.Loader.ForbidLoading();
        var r = _m.Probe();

        Assert.DoesNotContain("steps:", GpuReportFormatter.Text(r, "CPUExecutionProvider", verbose: false));
        Assert.Contains("  /dev/nvidia*: none\n", GpuReportFormatter.Text(r, "CPUExecutionProvider", verbose: true));
    }

    [Fact]
    public void Json_CarriesTheDiagnosisAndTheFindings()
    {
        _m.GpuHardware("535.104.05").WorkingCuda(new FakeCuda { Version = 12020 }).Set("SLURM_JOB_ID", "9").Set("SLURM_STEP_GPUS", "0");

        using var doc = JsonDocument.Parse(GpuReportFormatter.Json(_m.Probe(), "CPUExecutionProvider", "cpu"));
        var root = doc.RootElement;

        Assert.False(root.GetProperty("gpu_usable").GetBoolean());
        Assert.Equal(5, root.GetProperty("diagnosis").GetProperty("number").GetInt32());
        Assert.Equal(12020, root.GetProperty("cuda_driver_version").GetInt32());
        Assert.Equal("NVIDIA H200", root.GetProperty("gpus")[0].GetProperty("name").GetString());
        Assert.Equal("SLURM_STEP_GPUS", root.GetProperty("slurm").GetProperty("gpus_from").GetString());
    }
}
