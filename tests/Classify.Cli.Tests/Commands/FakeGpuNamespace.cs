using System.Diagnostics;

namespace Classify.Tests.Commands;

/// <summary>
/// Runs the real <c>classify</c> executable in a private mount namespace that looks like a GPU node seen from
/// inside a container: a fresh /dev holding only the basic character devices plus, on request, /dev/nvidia0
/// and /dev/nvidiactl (both really /dev/null's device, 1:3), /proc/driver replaced by a tmpfs that may hold
/// the NVIDIA kernel module's version file, and /run replaced by a tmpfs that may hold Podman's marker.
/// Nothing of this is visible outside the namespace. Needs root and util-linux's unshare (or bubblewrap).
/// </summary>
internal sealed class FakeGpuNamespace
{
    public const string DriverVersion = "580.159.04";

    /// <summary>Why the namespace cannot be built here, or null when it can.</summary>
    public static readonly string? Unavailable = FindTool() is null
        ? "neither unshare (util-linux) nor bwrap (bubblewrap) is on PATH: cannot build a mount namespace with fake NVIDIA devices"
        : null;

    public bool DeviceNodes { get; init; }
    public bool KernelModule { get; init; }
    public bool PodmanMarker { get; init; }
    public Dictionary<string, string> Env { get; init; } = [];

    public ProcessResult Run(params string[] args)
    {
        using var dir = new TempDir();
        var script = dir.File("enter.sh");
        File.WriteAllText(script, SetupScript());
        var tool = FindTool()!;
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileName(tool) == "unshare")
        {
            foreach (var a in (string[])["--mount", "--propagation", "private", "--", "/bin/sh", script, ClassifyProcess.Executable]) psi.ArgumentList.Add(a);
        }
        else
        {
            // bubblewrap: the same picture, built by bwrap itself (the script then only adds the files).
            foreach (var a in (string[])["--bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/proc/driver", "--tmpfs", "/run"])
                psi.ArgumentList.Add(a);
            if (DeviceNodes)
                foreach (var a in (string[])["--dev-bind", "/dev/null", "/dev/nvidia0", "--dev-bind", "/dev/null", "/dev/nvidiactl"])
                    psi.ArgumentList.Add(a);
            foreach (var a in (string[])["--", "/bin/sh", script, ClassifyProcess.Executable]) psi.ArgumentList.Add(a);
            psi.Environment["FAKE_GPU_BWRAP"] = "1";
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        // A clean slate: the fake decides what the probe sees, not the machine the tests run on.
        foreach (var name in psi.Environment.Keys.Where(IsGpuRelated).ToList()) psi.Environment.Remove(name);
        psi.Environment.Remove("CLASSIFY_MODEL_DIR");
        foreach (var (k, v) in Env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"classify {string.Join(' ', args)} in the fake GPU namespace did not finish");
        }
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static bool IsGpuRelated(string name) =>
        name.StartsWith("APPTAINER", StringComparison.Ordinal) || name.StartsWith("SINGULARITY", StringComparison.Ordinal)
        || name.StartsWith("SLURM", StringComparison.Ordinal) || name == "CUDA_VISIBLE_DEVICES" || name == "container";

    private string SetupScript() => $$"""
        set -eu
        if [ -z "${FAKE_GPU_BWRAP:-}" ]; then
          mount -t tmpfs -o mode=755 fake-dev /dev
          for n in null:3 zero:5 full:7 random:8 urandom:9; do mknod -m 666 "/dev/${n%%:*}" c 1 "${n#*:}"; done
          ln -s /proc/self/fd /dev/fd; ln -s /proc/self/fd/0 /dev/stdin; ln -s /proc/self/fd/1 /dev/stdout; ln -s /proc/self/fd/2 /dev/stderr
          mkdir /dev/shm
          {{(DeviceNodes ? "mknod -m 666 /dev/nvidia0 c 1 3; mknod -m 666 /dev/nvidiactl c 1 3" : ":")}}
          mount -t tmpfs fake-driver /proc/driver
          mount -t tmpfs fake-run /run
        fi
        {{(KernelModule ? $"mkdir /proc/driver/nvidia; printf 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  {DriverVersion}  Thu Oct 30 10:00:00 UTC 2025\\nGCC version:  gcc version 12.2.0\\n' > /proc/driver/nvidia/version" : ":")}}
        {{(PodmanMarker ? "touch /run/.containerenv" : ":")}}
        exec "$@"
        """;

    private static string? FindTool()
    {
        foreach (var name in (string[])["unshare", "bwrap"])
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':'))
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, name)))
                    return Path.Combine(dir, name);
        return null;
    }
}

/// <summary>A fact that needs the mount namespace; skipped, with the reason, only where no tool can build one.</summary>
internal sealed class NamespaceFactAttribute : FactAttribute
{
    public NamespaceFactAttribute()
    {
        if (FakeGpuNamespace.Unavailable is { } why) Skip = why;
    }
}
