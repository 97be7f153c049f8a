using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Classify.Images;
using Classify.Inference;
using Classify.Inputs;
using Classify.Models;
using Classify.Pipeline;
using Classify.Preprocessing;

namespace Classify.Cli.Commands;

/// <summary>
/// `classify bench`: img/s of the model alone at each batch size (one real photo, the bundled cat, preprocessed once
/// and copied into every slot, so that only the engine is timed), the data path alone (<see cref="DataPathBench"/>: decode
/// through tensor, no model, on --images or the bundled cat, at 1 and N threads) and the CPU cores that keep the model
/// busy, then optionally the whole pipeline over a folder.
/// The numbers of the README's Benchmarks section come from it.
/// </summary>
internal sealed class BenchCommand(RunContext context, IReadOnlyDictionary<string, IBackendFactory> backends)
{
    public int Run(BenchOptions o, CancellationToken cancel)
    {
        var sizes = ParseSizes(o.BatchSizes);
        var defaultBatch = 0;
        if (o.Seconds is <= 0 or double.NaN)
            throw new ClassifyException(ExitCode.Usage, null, "--seconds must be above 0");
        if (o.Threads < 0)
            throw new ClassifyException(ExitCode.Usage, null, "--threads must be 0 (all cores) or more");
        if (o.Images is { } dir && !Directory.Exists(dir))
            throw new ClassifyException(ExitCode.ImageNotFound, dir, "no such folder (--images)");

        var request = new ModelRequest { Model = o.Model, Backend = o.Backend, Device = o.Device, Half = o.Fp16, ChannelsLast = o.ChannelsLast, Gpu = o.Gpu };
        var plan = ModelPlan.Make(request, ModelSetup.Catalog(o.ModelDir, context), backends, cancel);
        var (manifest, factory) = (plan.Manifest, plan.Factory);
        // A long run's settings (cuDNN's exhaustive algorithm search): the table is for sizing long jobs.
        var options = plan.Options(request, o.Threads, context.Environment.Get) with
        {
            GpuReports = context.Gpu,
            GpuIndex = o.Gpu,
            ExpectedImages = int.MaxValue,
            Log = line => context.Error.WriteLine($"classify: {line}"),
        };
        using var backend = FailSafeBackend.Create(opts => factory.Create(manifest, opts), manifest, options);
        // classify's default --batch_size on this device, which the table is judged against.
        defaultBatch = ClassificationRunner.DefaultBatchSize(backend.Device);
        var preprocessor = new Preprocessor(backend.Input);
        // classify's default decode: a large JPEG scaled in the DCT to twice what the model's resize needs.
        var loader = new ImageLoader(ImageLimits.ForModel(ImageLoaderOptions.Default, backend.Input, fullDecode: false));
        var results = new List<(int Batch, double ImagesPerSecond, double MsPerBatch)>();
        var output = new float[sizes.Max() * manifest.Output.Classes];

        // The data path first, while the engine's threads are idle: the process's CPU time is then the data path's.
        var dataFolder = o.Images ?? Path.Combine(AppContext.BaseDirectory, "examples");
        var files = InputSet.Enumerate(new InputOptions { Directory = dataFolder, Recursive = true }, context.In);
        var threads = o.Threads > 0 ? o.Threads : Environment.ProcessorCount;
        var (dataPath, readable, unreadable) = DataPathBench.Measure(files, backend.Input, loader, threads > 1 ? [1, threads] : [1], o.Seconds, cancel);
        foreach (var size in sizes)
        {
            var batch = new InputBatch(backend.Input, size) { Count = size };
            loader.LoadAndUse(Path.Combine(AppContext.BaseDirectory, "examples", "cat.png"), image => preprocessor.Fill(image, batch, 0), cancel);
            for (var i = 1; i < size; i++)
            {
                if (batch.Floats is { } f) Array.Copy(f, 0, f, i * batch.ImageLength, batch.ImageLength);
                else Array.Copy(batch.Bytes!, 0, batch.Bytes!, i * batch.ImageLength, batch.ImageLength);
            }
            var span = output.AsSpan(0, size * manifest.Output.Classes);
            backend.Run(batch, span); // warm-up: allocations, kernel choice
            var clock = Stopwatch.StartNew();
            var runs = 0;
            while (runs < 3 || clock.Elapsed.TotalSeconds < o.Seconds)
            {
                cancel.ThrowIfCancellationRequested();
                backend.Run(batch, span);
                runs++;
            }
            var seconds = clock.Elapsed.TotalSeconds;
            results.Add((size, runs * size / seconds, 1000 * seconds / runs));
        }

        (int Images, double Seconds, string Timings)? endToEnd = null;
        if (o.Images is { } folder)
        {
            var runner = new ClassificationRunner(backend, manifest, Labels.Load(manifest), loader, 5, defaultBatch, o.Threads);
            var clock = Stopwatch.StartNew();
            runner.Run(files, _ => { }, cancel);
            endToEnd = (files.Count, clock.Elapsed.TotalSeconds, runner.Timings.Describe().TrimStart(';', ' '));
        }

        var best = results.MaxBy(r => r.ImagesPerSecond);
        var atDefault = results.FirstOrDefault(r => r.Batch == defaultBatch);
        var data = new DataPathReport(dataFolder, readable, unreadable, dataPath, best.ImagesPerSecond, backend.Device.ToString());
        if (o.Json)
            WriteJson(manifest, backend, results, best, atDefault, endToEnd, o.Images, defaultBatch, data);
        else
            WriteTable(manifest, backend, results, best, atDefault, endToEnd, o.Images, defaultBatch, data);
        return ExitCode.Success;
    }

    private void WriteTable(ModelManifest manifest, IClassifierBackend backend, List<(int Batch, double ImagesPerSecond, double MsPerBatch)> results,
        (int Batch, double ImagesPerSecond, double MsPerBatch) best, (int Batch, double ImagesPerSecond, double MsPerBatch) atDefault,
        (int Images, double Seconds, string Timings)? endToEnd, string? folder, int defaultBatch, DataPathReport data)
    {
        var w = context.Out;
        w.WriteLine(F($"classify bench: model {manifest.Name}, backend {backend.Name} on {backend.Device}, {Environment.ProcessorCount} CPU core{(Environment.ProcessorCount == 1 ? "" : "s")}"));
        w.WriteLine("  batch      img/s   ms/batch");
        foreach (var (batch, ips, ms) in results)
            w.WriteLine(F($"  {batch,5} {ips,10:F1} {ms,10:F2}"));
        w.WriteLine(F($"best: batch {best.Batch}, {best.ImagesPerSecond:F1} img/s")
            + (atDefault.Batch == defaultBatch ? F($"; classify's default --batch_size {defaultBatch}: {100 * atDefault.ImagesPerSecond / best.ImagesPerSecond:F0}% of it") : ""));
        data.WriteTable(w);
        if (endToEnd is { } e)
            w.WriteLine(F($"end to end: {e.Images} images of {folder} in {e.Seconds:F2} s, {(e.Seconds > 0 ? e.Images / e.Seconds : 0):F1} img/s at --batch_size {defaultBatch}; {e.Timings}"));
    }

    private void WriteJson(ModelManifest manifest, IClassifierBackend backend, List<(int Batch, double ImagesPerSecond, double MsPerBatch)> results,
        (int Batch, double ImagesPerSecond, double MsPerBatch) best, (int Batch, double ImagesPerSecond, double MsPerBatch) atDefault,
        (int Images, double Seconds, string Timings)? endToEnd, string? folder, int defaultBatch, DataPathReport data)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("model", manifest.Name);
            json.WriteString("backend", backend.Name);
            json.WriteString("device", backend.Device.ToString());
            json.WriteNumber("cpu_cores", Environment.ProcessorCount);
            json.WriteStartArray("model_only");
            foreach (var (batch, ips, ms) in results)
            {
                json.WriteStartObject();
                json.WriteNumber("batch", batch);
                json.WriteNumber("images_per_second", Math.Round(ips, 1));
                json.WriteNumber("ms_per_batch", Math.Round(ms, 3));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNumber("best_batch", best.Batch);
            if (atDefault.Batch == defaultBatch)
                json.WriteNumber("default_batch_fraction_of_best", Math.Round(atDefault.ImagesPerSecond / best.ImagesPerSecond, 3));
            data.WriteJson(json);
            if (endToEnd is { } e)
            {
                json.WriteStartObject("end_to_end");
                json.WriteString("folder", folder);
                json.WriteNumber("images", e.Images);
                json.WriteNumber("seconds", Math.Round(e.Seconds, 3));
                json.WriteNumber("images_per_second", Math.Round(e.Seconds > 0 ? e.Images / e.Seconds : 0, 1));
                json.WriteNumber("batch", defaultBatch);
                json.WriteString("timings", e.Timings);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        context.Out.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static List<int> ParseSizes(string text)
    {
        var sizes = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > 4096)
                throw new ClassifyException(ExitCode.Usage, null, $"--batch_sizes {text}: '{part}' is not a batch size from 1 to 4096");
            sizes.Add(n);
        }
        if (sizes.Count == 0)
            throw new ClassifyException(ExitCode.Usage, null, "--batch_sizes needs at least one batch size, e.g. 1,8,32");
        return sizes;
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
