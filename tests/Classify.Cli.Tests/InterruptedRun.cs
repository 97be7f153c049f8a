using System.Diagnostics;

namespace Classify.Tests;

/// <summary>What the tests that stop a run midway (SIGTERM, SIGKILL) share: photos that keep it busy for seconds, and a
/// classify started and watched until its journal holds some results.</summary>
internal static class InterruptedRun
{
    /// <summary><paramref name="count"/> <paramref name="width"/>x<paramref name="height"/> progressive JPEGs of Chelsea
    /// in <paramref name="folder"/>: one saved, hard-linked under the other names. The count, not the size, keeps the run
    /// busy: with DCT scaling a 9000x6000 photo decodes in about 0.2 s here, and eight could all be done (and the journal
    /// renamed) between two polls of the journal.</summary>
    public static async Task<string> BigPhotos(string folder, int count, int width = 9000, int height = 6000)
    {
        Directory.CreateDirectory(folder);
        using var make = Process.Start("/usr/bin/python3", ["-c",
            "import os, sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB').resize((int(sys.argv[3]), int(sys.argv[4]))); " +
            "im.save(f'{sys.argv[2]}/b00.jpg', quality=90, progressive=True); " +
            "[os.link(f'{sys.argv[2]}/b00.jpg', f'{sys.argv[2]}/b{i:02}.jpg') for i in range(1, int(sys.argv[5]))]",
            TestData.Chelsea, folder, $"{width}", $"{height}", $"{count}"]);
        await make.WaitForExitAsync();
        Assert.Equal(0, make.ExitCode);
        return folder;
    }

    /// <summary>Starts classify with <paramref name="args"/> and returns it, with its standard error being read, once the
    /// journal of <paramref name="output"/> holds <paramref name="records"/> results (60 s at most); fails the test if the
    /// run ended before.</summary>
    public static async Task<(Process Run, Task<string> Stderr)> StartUntilJournaled(string[] args, string output, int records,
        IDictionary<string, string>? env = null)
    {
        var start = new ProcessStartInfo(ClassifyProcess.Executable) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) start.Environment[k] = v;
        var run = Process.Start(start)!;
        var stderr = run.StandardError.ReadToEndAsync();
        var journal = output + ".partial";
        var waited = Stopwatch.StartNew();
        while (!(File.Exists(journal) && File.ReadAllLines(journal).Length >= records + 1) && waited.Elapsed < TimeSpan.FromSeconds(60))
            await Task.Delay(20);
        Assert.False(run.HasExited, "the run ended before it could be interrupted");
        return (run, stderr);
    }
}
