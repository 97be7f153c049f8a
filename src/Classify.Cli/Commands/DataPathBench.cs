using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Cli.Commands;

/// <summary>
/// classify bench's data path alone (issue 30): read, decode, orient, resize, normalise and lay out into a batch slot,
/// exactly what a decode thread of classify does for each image, with no model. Timed with one thread (the cost per
/// core) and with N threads (what the extra threads cost each other), as CPU per image (the process's user + system
/// time over the timed span, so the collector and the JIT's background work count, as they do in a run) and img/s.
/// </summary>
internal static class DataPathBench
{
    public readonly record struct Result(int Threads, int Images, double Seconds, double CpuMsPerImage)
    {
        public double ImagesPerSecond => Seconds > 0 ? Images / Seconds : 0;
    }

    /// <summary>Cores one device needs to keep the model busy: its img/s times the CPU each image costs on the way in.</summary>
    public static int CoresToKeepBusy(double modelImagesPerSecond, double cpuMsPerImage) =>
        Math.Max(1, (int)Math.Ceiling(modelImagesPerSecond * cpuMsPerImage / 1000));

    /// <summary>The images of <paramref name="files"/> that load (a warm-up pass over at most 16 of them, which also
    /// compiles the path), then a timed run at each thread count, going round the list for at least
    /// <paramref name="seconds"/> and at least 16 images a thread (or the folder's images a thread, if fewer).</summary>
    public static (List<Result> Results, int Readable, int Unreadable) Measure(IReadOnlyList<string> files, InputSpec input, ImageLoader loader,
        IEnumerable<int> threadCounts, double seconds, CancellationToken cancel)
    {
        var preprocessor = new Preprocessor(input);
        var batch = new InputBatch(input, 1);
        var readable = new List<string>();
        var unreadable = 0;
        foreach (var file in files)
        {
            if (readable.Count >= 16)
                readable.Add(file); // the rest are taken on trust; one that fails is counted then
            else if (TryFill(loader, preprocessor, file, batch, 0, cancel))
                readable.Add(file);
            else
                unreadable++;
        }
        var results = new List<Result>();
        if (readable.Count == 0)
            return (results, 0, unreadable);
        foreach (var threads in threadCounts)
        {
            var (result, failed) = Timed(readable, input, loader, preprocessor, threads, seconds, cancel);
            results.Add(result);
            unreadable += failed;
        }
        return (results, readable.Count, unreadable);
    }

    private static (Result, int Failed) Timed(List<string> files, InputSpec input, ImageLoader loader, Preprocessor preprocessor,
        int threads, double seconds, CancellationToken cancel)
    {
        // Each thread fills its own slot, as each decode thread of a run fills its own.
        var batch = new InputBatch(input, threads);
        var next = -1;
        var done = 0;
        var failed = 0;
        var minimum = Math.Min(files.Count, 16) * threads; // a large folder is sampled for --seconds, not read whole
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var workers = new Thread[threads];
        for (var t = 0; t < threads; t++)
        {
            var slot = t;
            workers[t] = new Thread(() =>
            {
                while (!cancel.IsCancellationRequested)
                {
                    var i = Interlocked.Increment(ref next);
                    if (i >= minimum && clock.Elapsed.TotalSeconds >= seconds)
                        break;
                    if (TryFill(loader, preprocessor, files[i % files.Count], batch, slot, cancel))
                        Interlocked.Increment(ref done);
                    else
                        Interlocked.Increment(ref failed);
                }
            }) { IsBackground = true, Name = "bench data path" };
            workers[t].Start();
        }
        foreach (var worker in workers)
            worker.Join();
        cancel.ThrowIfCancellationRequested();
        var elapsed = clock.Elapsed.TotalSeconds;
        process.Refresh();
        var cpuMs = (process.TotalProcessorTime - cpu).TotalMilliseconds;
        return (new Result(threads, done, elapsed, done > 0 ? cpuMs / done : 0), failed);
    }

    private static bool TryFill(ImageLoader loader, Preprocessor preprocessor, string file, InputBatch batch, int slot, CancellationToken cancel)
    {
        try
        {
            loader.LoadAndUse(file, image => preprocessor.Fill(image, batch, slot), cancel);
            return true;
        }
        catch (Exception e) when (e is ClassifyException or IOException or InvalidDataException or ArgumentException or NotSupportedException
                                      or SixLabors.ImageSharp.ImageFormatException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>What bench prints of the data path: its runs, and the cores that keep the measured device's model busy,
/// ceil(model img/s x CPU ms per image / 1000), with the higher of the one-thread and N-thread costs per image (the
/// threads of a job pay each other's overhead).</summary>
internal sealed record DataPathReport(string Folder, int Images, int Unreadable, List<DataPathBench.Result> Runs,
    double ModelImagesPerSecond, string Device)
{
    public double CpuMsPerImage => Runs.Count == 0 ? 0 : Runs.Max(r => r.CpuMsPerImage);

    public int Cores => DataPathBench.CoresToKeepBusy(ModelImagesPerSecond, CpuMsPerImage);

    public void WriteTable(TextWriter w)
    {
        if (Runs.Count == 0)
        {
            w.WriteLine(F($"data path: none of the {Unreadable} files of {Folder} could be read"));
            return;
        }
        var runs = string.Join("; ", Runs.Select(r =>
            F($"{r.Threads} thread{(r.Threads == 1 ? "" : "s")} {r.CpuMsPerImage:F2} ms CPU/image, {r.ImagesPerSecond:F1} img/s")));
        w.WriteLine(F($"data path alone (read, decode, resize, normalise, lay out; no model), {Images} image{(Images == 1 ? "" : "s")} of {Folder}")
            + (Unreadable > 0 ? F($" ({Unreadable} unreadable, left out)") : "") + ": " + runs);
        w.WriteLine(F($"cores to keep the model busy on {Device}: {Cores} = ceil({ModelImagesPerSecond:F1} img/s x {CpuMsPerImage:F2} ms / 1000), the number to put in --cpus-per-task")
            + (Device == "cpu" ? " (on the CPU the model runs on the same cores)" : ""));
    }

    public void WriteJson(Utf8JsonWriter json)
    {
        json.WriteStartObject("data_path");
        json.WriteString("folder", Folder);
        json.WriteNumber("images", Images);
        json.WriteNumber("unreadable", Unreadable);
        json.WriteStartArray("runs");
        foreach (var r in Runs)
        {
            json.WriteStartObject();
            json.WriteNumber("threads", r.Threads);
            json.WriteNumber("images", r.Images);
            json.WriteNumber("seconds", Math.Round(r.Seconds, 3));
            json.WriteNumber("cpu_ms_per_image", Math.Round(r.CpuMsPerImage, 3));
            json.WriteNumber("images_per_second", Math.Round(r.ImagesPerSecond, 1));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        if (Runs.Count > 0)
            json.WriteNumber("cpus_per_task", Cores);
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
