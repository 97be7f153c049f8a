using System.Diagnostics;

namespace Classify.Tests;

/// <summary>What a finished classify process left behind.</summary>
internal sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>Runs the real, built `classify` executable as a separate process, as a user or a job script would.</summary>
internal static class ClassifyProcess
{
    /// <summary>
    /// The apphost built next to this test assembly (the CLI project is referenced, so it is copied here), or the
    /// executable CLASSIFY_TEST_EXECUTABLE names: scripts/ci/install-test.sh points it at the installed Native AOT
    /// build, so that every test here also runs against what users run.
    /// </summary>
    public static readonly string Executable = Environment.GetEnvironmentVariable("CLASSIFY_TEST_EXECUTABLE") is { Length: > 0 } installed
        ? installed
        : Path.Combine(AppContext.BaseDirectory, "classify");

    public static ProcessResult Run(IEnumerable<string> args, string? stdin = null, IDictionary<string, string?>? env = null,
        string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        Isolate(start, env);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"classify {string.Join(' ', args)} did not finish");
        }
        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs <c>bash -c SCRIPT</c> with $CLASSIFY naming the executable, for arguments .NET cannot pass (bytes
    /// that are not UTF-8, written as $'\xe9' in the script); standard input and output are bytes.</summary>
    public static (int ExitCode, byte[] Stdout, string Stderr) RunScript(string script, string workingDirectory, byte[]? stdin = null)
    {
        var start = new ProcessStartInfo("bash", ["-c", script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        Isolate(start, new Dictionary<string, string?> { ["CLASSIFY"] = Executable });
        using var process = Process.Start(start)!;
        var stdout = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null) process.StandardInput.BaseStream.Write(stdin);
        process.StandardInput.Close();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bash -c {script} did not finish");
        }
        copy.Wait();
        return (process.ExitCode, stdout.ToArray(), stderr.Result);
    }

    private static void Isolate(ProcessStartInfo start, IDictionary<string, string?>? env)
    {
        // The tests must see the bundled models of this build, whatever the developer's shell exports.
        start.Environment.Remove("CLASSIFY_MODEL_DIR");
        // ... and no model the developer downloaded, nor their catalogue, mirror or offline setting: a cache of its own
        // (created only if a test downloads).
        foreach (var name in (string[])["CLASSIFY_CATALOG", "CLASSIFY_MODEL_MIRROR", "CLASSIFY_OFFLINE", "XDG_CACHE_HOME"])
            start.Environment.Remove(name);
        start.Environment["CLASSIFY_CACHE"] = Path.Combine(Path.GetTempPath(), "classify-test-cache-" + Guid.NewGuid().ToString("N")[..12]);
        // Nor may a test run inside a Slurm array or srun step be sharded by the job's variables.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("SLURM_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(name);
        if (env is not null)
            foreach (var (k, v) in env)
            {
                // null: the variable is not set at all in the child.
                if (v is null) start.Environment.Remove(k);
                else start.Environment[k] = v;
            }
    }

    public static ProcessResult Run(params string[] args) => Run((IEnumerable<string>)args);

    /// <summary>Runs classify with <paramref name="arguments"/> (a shell word list) on a pseudo-terminal (script(1))
    /// described as an xterm; returns the exit code and everything the terminal received, both streams.</summary>
    public static (int ExitCode, string Terminal) RunOnTerminal(string arguments)
    {
        var start = new ProcessStartInfo("script", ["-qec", $"{Executable} {arguments}", "/dev/null"])
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.Environment["TERM"] = "xterm";
        using var p = Process.Start(start)!;
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"classify {arguments} did not finish on the terminal");
        }
        return (p.ExitCode, output);
    }
}
