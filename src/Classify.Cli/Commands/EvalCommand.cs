using System.Text;
using Classify.Evaluation;
using Classify.Inference;
using Classify.Models;

namespace Classify.Cli.Commands;

/// <summary>
/// `classify eval`: reads the truth first (so a misnamed class stops it before any image is read), classifies the
/// labelled images with the classify command itself (same model, options, batching, errors and resume) into a jsonl
/// file, or takes results already written, and reports what <see cref="Evaluator"/> finds.
/// </summary>
internal sealed class EvalCommand(RunContext context, IReadOnlyDictionary<string, IBackendFactory> backends)
{
    public int Run(EvalOptions o, CancellationToken cancel)
    {
        if (o.Directory is null && o.Truth is null)
            throw new ClassifyException(ExitCode.Usage, null, "eval needs labelled images: DIR (one folder per class) or --truth FILE; see classify eval --help");
        ResultFiles.Contents? given = null;
        if (o.Results is { } results)
        {
            var classifying = new (bool Set, string Name)[] { (o.Output is not null, "--output"), (o.Backend is not null, "--backend"),
                (o.Device is not null, "--device"), (o.Gpu is not null, "--gpu"), (o.RequireGpu, "--require-gpu"), (o.Fp16, "--fp16"),
                (o.BatchSize is not null, "--batch_size"), (o.Threads is not null, "--threads"), (o.FullDecode, "--full_decode"), (o.JpegDctScale, "--jpeg_dct_scale") };
            if (classifying.FirstOrDefault(c => c.Set) is { Set: true } option)
                throw new ClassifyException(ExitCode.Usage, null, $"{option.Name} applies when eval classifies images, not to --results {results}");
            given = ResultFiles.Read(results);
        }
        var catalog = ModelSetup.Catalog(o.ModelDir, context);
        var manifest = catalog.Resolve(o.Model ?? given?.Model ?? ModelCatalog.DefaultModel, out _, cancel);
        var names = ClassNames.Of(Labels.Load(manifest));
        var truth = o.Truth is { } file ? GroundTruth.FromFile(file, names, o.Directory) : GroundTruth.FromFolders(o.Directory!, names);

        var contents = given ?? Classify(o, truth, cancel);
        var report = Evaluator.Evaluate(truth, contents.Results, names, contents.Model ?? manifest.Name);
        if (o.Json)
            context.Out.Write(Encoding.UTF8.GetString(EvalReportWriter.Json(report, names)));
        else
            EvalReportWriter.Table(context.Out, report, names);
        context.Out.Flush();
        return report.Failed.Count > 0 ? ExitCode.SomeImagesFailed : ExitCode.Success;
    }

    /// <summary>Runs classify on the labelled images, top 5, into --output or a temporary jsonl, and reads it back.</summary>
    private ResultFiles.Contents Classify(EvalOptions o, GroundTruth truth, CancellationToken cancel)
    {
        var scratch = Path.Combine(Path.GetTempPath(), $"classify-eval-{Environment.ProcessId}");
        System.IO.Directory.CreateDirectory(scratch);
        try
        {
            var list = Path.Combine(scratch, "images.list");
            File.WriteAllText(list, string.Concat(truth.Rows.Select(r => r.File + "\0")));
            var output = o.Output ?? Path.Combine(scratch, "results.jsonl");
            var args = new List<string> { "--image_list", list, "--null", "--num_top_predictions", "5", "--output", output };
            void Add(string name, object? value) { if (value is not null) args.AddRange([name, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)!]); }
            void Flag(string name, bool on) { if (on) args.Add(name); }
            Add("--model", o.Model);
            Add("--model_dir", o.ModelDir);
            Add("--backend", o.Backend);
            Add("--device", o.Device);
            Add("--gpu", o.Gpu);
            Flag("--require-gpu", o.RequireGpu);
            Flag("--fp16", o.Fp16);
            Add("--batch_size", o.BatchSize);
            Add("--threads", o.Threads);
            Flag("--full_decode", o.FullDecode);
            Flag("--jpeg_dct_scale", o.JpegDctScale);
            Flag("--quiet", o.Quiet);
            var status = Arguments.Parse<ClassifyOptions>([.. args], "classify", context,
                c => new ClassifyCommand(context, backends).Run(c, cancel));
            if (status is not (ExitCode.Success or ExitCode.SomeImagesFailed))
                throw new EvalStopped(status);
            return ResultFiles.Read(output);
        }
        finally
        {
            System.IO.Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>classify stopped (and said why): eval ends with its exit code.</summary>
    internal sealed class EvalStopped(int exitCode) : Exception
    {
        public int ExitCode { get; } = exitCode;
    }
}
