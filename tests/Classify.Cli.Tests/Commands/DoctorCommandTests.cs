using System.Text.Json;

namespace Classify.Tests.Commands;

/// <summary>`classify doctor` as a real process on fake GPU nodes (see <see cref="FakeGpuNamespace"/>).</summary>
public sealed class DoctorCommandTests
{
    private static FakeGpuNamespace ApptainerWithoutNv() => new()
    {
        DeviceNodes = true,
        KernelModule = true,
        Env = { ["APPTAINER_CONTAINER"] = "/scratch/classifier.sif" },
    };

    [NamespaceFact]
    public void Apptainer_without_nv_ends_with_the_verdict_and_exits_20()
    {
        var r = ApptainerWithoutNv().Run("doctor");

        Assert.Equal(ExitCode.GpuUnavailable, r.ExitCode);
        Assert.Equal("verdict: no usable GPU: an NVIDIA GPU is present (driver 580.159.04) but its driver libraries are not visible "
            + "inside this Singularity/Apptainer container; add --nv (singularity exec --nv ...).", r.Stdout.TrimEnd('\n').Split('\n')[^1]);
    }

    [NamespaceFact]
    public void Lists_what_it_found_and_which_libraries_do_not_load()
    {
        var lines = ApptainerWithoutNv().Run("doctor").Stdout.Split('\n');

        Assert.Contains("NVIDIA devices:       /dev/nvidia0 /dev/nvidiactl", lines);
        Assert.Contains("driver:               580.159.04", lines);
        Assert.Contains("container:            Singularity/Apptainer (APPTAINER_CONTAINER=/scratch/classifier.sif)", lines);
        Assert.Contains("libraries:            libcuda.so.1       MISSING libcuda.so.1: cannot open shared object file: No such file or directory", lines);
        Assert.Contains("execution provider:   CPUExecutionProvider", lines);
    }

    [NamespaceFact]
    public void Json_gives_the_diagnosis_number_for_scripts()
    {
        var r = ApptainerWithoutNv().Run("doctor", "--json");

        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(1, doc.RootElement.GetProperty("diagnosis").GetProperty("number").GetInt32());
        Assert.False(doc.RootElement.GetProperty("gpu_usable").GetBoolean());
        // The field's name says it is the verdict: its value starts with what the verdict is.
        Assert.StartsWith("no usable GPU: ", doc.RootElement.GetProperty("diagnosis").GetProperty("verdict").GetString());
        Assert.Equal(ExitCode.GpuUnavailable, r.ExitCode);
    }

    [NamespaceFact]
    public void Verbose_lists_each_step_tried()
    {
        var r = ApptainerWithoutNv().Run("doctor", "--verbose");

        Assert.Contains("  load libcuda.so.1: failed: libcuda.so.1: cannot open shared object file: No such file or directory\n", r.Stdout);
        Assert.Contains("  /proc/driver/nvidia/version: driver 580.159.04\n", r.Stdout);
    }

    [NamespaceFact]
    public void Cpu_machine_is_diagnosis_8_or_the_container_it_runs_in()
    {
        // The namespace cannot hide /.dockerenv when the tests themselves run under Docker: a container on a host without
        // NVIDIA driver is diagnosis 8 too (no GPU anywhere); only with the host's driver showing is it 2 (--gpus all).
        var r = new FakeGpuNamespace().Run("doctor", "--json");

        using var doc = JsonDocument.Parse(r.Stdout);
        var expected = File.Exists("/.dockerenv") && Directory.Exists("/proc/driver/nvidia") ? 2 : 8;
        Assert.Equal(expected, doc.RootElement.GetProperty("diagnosis").GetProperty("number").GetInt32());
        Assert.Empty(doc.RootElement.GetProperty("libraries").EnumerateArray());
    }
}
