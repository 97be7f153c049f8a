using System.Diagnostics;
using Classify.Gpu;
using Classify.Images;
using Classify.Inference;
using Classify.Inputs;
using Classify.Models;
using Classify.Output;
using Classify.Pipeline;

namespace Classify.Cli.Commands;

/// <summary>The default command: inputs → model → backend → results, written in the chosen format.</summary>
internal sealed class ClassifyCommand(RunContext context, IReadOnlyDictionary<string, IBackendFactory> backends)
{
    public int Run(ClassifyOptions o, CancellationToken cancel)
    {
        if (o.NumTopPredictions < 1)
            throw new ClassifyException(ExitCode.Usage, null, "--num_top_predictions must be at least 1");
        if (o.BatchSize is < 1)
            throw new ClassifyException(ExitCode.Usage, null, "--batch_size must be at least 1");
        if (o.RequireGpu && o.Device == DeviceRequest.Cpu)
            throw new ClassifyException(ExitCode.Usage, null, "--require-gpu contradicts --device cpu");
        if (o.ProgressInterval is <= 0 or double.NaN)
            throw new ClassifyException(ExitCode.Usage, null, "--progress_interval must be a number of seconds above 0");
        if (o.Quiet && o.Verbose)
            throw new ClassifyException(ExitCode.Usage, null, "--quiet contradicts --verbose");
        if (o.FullDecode && o.JpegDctScale)
            throw new ClassifyException(ExitCode.Usage, null, "--full_decode contradicts --jpeg_dct_scale (DCT scaling is the default now; --full_decode turns it off)");
        if (o.Threads < 0)
            throw new ClassifyException(ExitCode.Usage, null, "--threads must be 0 (all cores) or more");
        var loaderOptions = ImageLimits.LoaderOptions(o);
        var outputPath = o.Output == "-" ? null : o.Output;
        if (o.FeaturesDtype is not null && !o.Features)
            throw new ClassifyException(ExitCode.Usage, null, "--features_dtype applies to --features only");
        if (o.Features && (outputPath is null || AtomicFile.IsSpecialFile(outputPath)))
            throw new ClassifyException(ExitCode.Usage, outputPath,
                "--features writes the embeddings beside the results file (results.jsonl -> results.features.npy): give --output FILE, a regular file");
        var featuresDtype = o.FeaturesDtype ?? Output.Features.FeaturesDtype.Float16;
        var format = OutputFormats.Resolve(o.Format, outputPath);
        var env = context.Environment;
        var launcher = Launcher.Detect(env.Get);
        var (gpu, gpuWhy) = o.Gpu is { } chosen ? (chosen, "--gpu")
            : launcher?.Gpu(env["CUDA_VISIBLE_DEVICES"]) ?? (0, "the default");

        var clock = Stopwatch.StartNew();
        var request = new ModelRequest { Model = o.Model, Backend = o.Backend, Device = o.Device, Half = o.Fp16, ChannelsLast = o.ChannelsLast, Gpu = o.Gpu };
        var plan = ModelPlan.Make(request, ModelSetup.Catalog(o.ModelDir, context), backends, cancel);
        var (manifest, factory, modelFile) = (plan.Manifest, plan.Factory, plan.ModelFile);
        var labels = Labels.Load(manifest);
        var modelCheckedMs = clock.ElapsedMilliseconds;
        var backendOptions = plan.Options(request, o.Threads, env.Get) with
        {
            GpuReports = context.Gpu,
            GpuIndex = gpu,
            RequireGpu = o.RequireGpu,
            Features = o.Features,
            Verbose = o.Verbose,
            Log = line => context.Error.WriteLine($"classify: {line}"),
        };
        // A GPU job that cannot get its GPU fails here, before reading a single image.
        if (factory is IGpuBackendFactory gpuFactory)
            new GpuDevicePolicy(backendOptions, gpuFactory.GpuRequirements).ThrowIfRequiredAndUnusable();

        var tars = new TarShards();
        void Warn(string line) => context.Error.WriteLine($"classify: {line}");
        var inputs = InputSet.FromPaths(o.Paths, o.Recursive, Program.Commands, context.In, o.NullSeparated, tars, Warn);
        inputs.AddRange(InputSet.Enumerate(new InputOptions
        {
            Files = o.ImageFiles.ToList(),
            Archives = o.ImageTars.ToList(),
            Tars = tars,
            Directory = o.ImageDir,
            Recursive = o.Recursive,
            List = o.ImageList,
            NullSeparated = o.NullSeparated,
            Warn = Warn,
        }, context.In));
        var noInputGiven = !o.Paths.Any() && !o.ImageFiles.Any() && !o.ImageTars.Any() && o.ImageDir is null && o.ImageList is null;
        if (noInputGiven && context.InputHoldsData)
            throw new ClassifyException(ExitCode.Usage, null,
                "standard input holds data but no image was named: to classify the image paths on it, add '-' (ls *.png | classify -); see classify --help");
        if (noInputGiven)
            inputs.Add(Path.Combine(AppContext.BaseDirectory, "examples", "cat.png"));
        if (inputs.Count == 0)
        {
            // Images only in subfolders: say how to reach them.
            var folders = o.Paths.Append(o.ImageDir).OfType<string>().Where(Directory.Exists).ToList();
            var deeper = !o.Recursive && folders.Any(f => Directory.EnumerateDirectories(f).Any());
            context.Error.WriteLine($"classify: warning: no images found in {string.Join(", ", o.Paths.Concat(o.ImageTars).Append(o.ImageDir ?? o.ImageList).OfType<string>())}"
                + (deeper ? " (its subfolders were not searched: add --recursive)" : ""));
        }
        var allInputs = inputs;
        var (shard, sharded) = SelectShard(o, inputs.Count, launcher, o.Device == DeviceRequest.Cpu ? "the CPU (--device cpu)" : $"GPU {gpu} ({gpuWhy})", ref inputs, ref outputPath);

        if (!tars.IsEmpty) loaderOptions = loaderOptions with { Archives = tars };
        var loader = new ImageLoader(ImageLimits.ForModel(loaderOptions, manifest.Input, o.FullDecode));
        if (inputs.Count > 0) loader.Prefetch(inputs[0]);
        // On a GPU: proven before the first image and watched during the run (FailSafeBackend).
        using var backend = FailSafeBackend.Create(options => factory.Create(manifest, options), manifest, backendOptions with { ExpectedImages = inputs.Count });
        if (o.Verbose)
            context.Error.WriteLine($"classify: model {manifest.Name} ({manifest.PathOf(manifest.Files[modelFile])}), backend {backend.Name} on {backend.Device}{(backend.Input.ElementType != manifest.Input.ElementType ? " (uint8 upload, preprocessing on the device)" : "")}, {inputs.Count} image(s), ready in {clock.ElapsedMilliseconds} ms (model checks {modelCheckedMs} ms); JPEG decoder: {ImageLoader.JpegDecoder}; PNG decoder: {ImageLoader.PngDecoder}");

        // Everything that can change a result, once: the provenance on every record, the shard trailer's run fields and
        // the resume journal's fingerprint all come from it. The model file's hash is the manifest's, which
        // ModelCatalog.VerifiedFile checked the file against.
        var settings = new ResultSettings
        {
            Model = manifest.Name,
            ModelFileSha256 = (manifest.Files[modelFile].Sha256 ?? "").ToLowerInvariant(),
            LabelsSha256 = manifest.Labels.Sha256 ?? "",
            Synsets = manifest.Labels.SynsetsSha256 ?? manifest.Labels.Synsets ?? "",
            ClassifyVersion = Arguments.ResultVersion,
            Backend = backend.Name,
            Device = backend.Device.ToString(),
            Half = o.Fp16,
            ChannelsLast = o.ChannelsLast,
            DevicePreprocessing = backend.Input.ElementType != manifest.Input.ElementType,
            JpegDecoder = ImageLoader.JpegLibrary,
            PngDecoder = ImageLoader.PngLibrary,
            JpegDctScale = !o.FullDecode,
            DecodeTimeoutSeconds = loaderOptions.DecodeTimeout.TotalSeconds,
            MaxFileBytes = loaderOptions.MaxFileBytes,
            MaxPixels = loaderOptions.MaxPixels,
            TopK = o.NumTopPredictions,
            Shard = shard.ToString(),
            Features = o.Features ? manifest.Output.Features ?? "" : "",
            FeaturesDtype = o.Features ? featuresDtype.ToString().ToLowerInvariant() : "",
        };
        var made = settings.Provenance;
        // A shard's jsonl ends with a trailer naming its split, which classify merge checks the shards against.
        // The input list is hashed once, for the trailer and the journal alike, and only when one of them needs it.
        var split = new Lazy<ShardSplit>(() => ShardSplit.Of(shard, allInputs));
        Output.Features.FeaturesFile? features = null;
        var info = settings.RunInfo(sharded ? split.Value : null) with { FeaturesSha256 = () => features?.RowsSha256 };
        var batchSize = o.BatchSize ?? ClassificationRunner.DefaultBatchSize(backend.Device);
        var runner = new ClassificationRunner(backend, manifest, labels, loader, o.NumTopPredictions, batchSize, o.Threads);
        var sink = new ResultSink(context.Error, new ProgressOptions
        {
            Terminal = context.ProcessStreams && context.ErrorIsTerminal,
            ResultsOnTerminal = outputPath is null && context.ProcessStreams && context.OutIsTerminal,
            Interval = o.ProgressInterval,
            Quiet = o.Quiet,
            Verbose = o.Verbose,
        }) { RetryFailed = o.RetryFailed };
        void Write(ResultWriter writer, ResultJournal? journal = null, Output.Features.FeaturesFile? embeddings = null) =>
            sink.Run(runner, inputs, writer, journal, cancel, embeddings);

        var single = inputs.Count == 1;
        // A device or FIFO (--output /dev/null, a named pipe) is written directly, without a resume journal.
        if (outputPath is not null && !AtomicFile.IsSpecialFile(outputPath))
        {
            using var file = new AtomicFile(outputPath);
            // --features: the embeddings beside it, row for row, committed just before it.
            using var featuresFile = features = o.Features ? new Output.Features.FeaturesFile(Output.Features.FeaturesFile.PathFor(outputPath), backend.FeatureWidth, featuresDtype) : null;
            // A rerun of a killed run (e.g. an array task past its time limit) resumes from FILE.partial. The build is
            // in the fingerprint: replayed records get this run's classify_version, so they must be this build's.
            using var journal = ResultJournal.Open(outputPath, settings.Fingerprint(split.Value.InputsSha256),
                inputs, batchSize, note => context.Error.WriteLine($"classify: {note}"), new RecordCheck(labels, o.NumTopPredictions));
            journal.HalfFeatures = o.Features && featuresDtype == Output.Features.FeaturesDtype.Float16;
            try
            {
                using (var text = ResultWriter.OpenText(file.Stream))
                    Write(ResultWriter.Create(format, text, info, single), journal, features);
            }
            catch (ClassifyException e) when (e.ExitCode == ExitCode.OutputFailed && journal.Count > 0 && journal.TryFlush())
            {
                throw new ClassifyException(ExitCode.OutputFailed, e.File,
                    $"{e.Message}; {journal.Path} keeps the {journal.Count} finished, and the same command run again resumes after them", e);
            }
            catch (Exception e) when (ResourceLimits.IsOutOfMemory(e) && journal.Count > 0 && journal.TryFlush())
            {
                throw new ClassifyException(ExitCode.ResourceExhausted, null,
                    $"{ResourceLimits.OutOfMemory(e).Message}; {journal.Path} keeps the {journal.Count} finished, and a rerun with the same --output resumes after them", e);
            }
            catch (Exception e) when (journal.Count == 0 && e is not OperationCanceledException)
            {
                journal.Delete(); // it holds no result: nothing to resume, nothing to leave behind
                throw;
            }
            catch (OperationCanceledException)
            {
                journal.Flush();
                throw new ClassifyException(ExitCode.Cancelled, null,
                    $"cancelled after {sink.Done} of {inputs.Count} images: {outputPath} was not written; {journal.Path} keeps the "
                    + $"{journal.Count} finished, and the same command run again resumes after them");
            }
            features?.Commit();
            file.Commit();
            journal.Delete();
            if (features is not null && (o.Verbose || !o.Quiet))
                context.Error.WriteLine($"classify: wrote {features.Rows} embeddings of {backend.FeatureWidth} values ({features.Dtype.ToString().ToLowerInvariant()}) to {features.Path}");
        }
        else
        {
            using var special = outputPath is null ? null : new AtomicFile(outputPath);
            try
            {
                // Standard output gets the bytes an --output file would (names as their bytes whatever the locale), and a
                // reader that goes away (| head -1) or a full disk behind it stops the run with exit 14.
                using var text = special is not null ? ResultWriter.OpenText(special.Stream) : context.OpenStandardOutput();
                Write(ResultWriter.Create(format, text ?? context.Out, info, single));
            }
            catch (OperationCanceledException)
            {
                throw new ClassifyException(ExitCode.Cancelled, null,
                    $"cancelled after {sink.Done} of {inputs.Count} images (their results were written as they came; with --output FILE a rerun resumes)");
            }
            special?.Commit();
        }

        sink.Progress?.Finish(runner.Timings, sink.Failed);
        if (backend is FailSafeBackend { PlacementSummary: { } where })
            context.Error.WriteLine($"classify: the run moved to the CPU: {where}");
        return sink.ExitCode(inputs.Count);
    }

    /// <summary>The part of the inputs this process classifies: --shard, else a Slurm array task's share, split again
    /// among the ranks of an MPI launch or an srun step. Where it came from the environment, it is said every time: a
    /// job that classifies its files in an array or under mpirun for another reason would otherwise be puzzled by
    /// its missing results.</summary>
    /// <returns>The shard, and whether the run is one of a split (a --shard, a Slurm array task or a launcher's rank,
    /// even one of a single shard: its output is then a shard file that merge takes).</returns>
    /// <remarks>Every shard taken from the environment (a Slurm array task, an srun or MPI rank) writes its own tagged
    /// file, FILE.shard-IIII-of-NNNN.EXT: the tasks of one job share its command line, and one --output would keep only
    /// the last of them. A {shard} in the name is replaced by the tag in any case.</remarks>
    private (Shard Shard, bool Sharded) SelectShard(ClassifyOptions o, int total, Launcher? launcher, string device, ref List<string> inputs,
        ref string? outputPath)
    {
        Shard shard;
        var sharded = o.Shard is not null || launcher is not null;
        var from = new List<string>();
        if (o.Shard is { } text)
        {
            shard = Shard.Parse(text);
        }
        else
        {
            var array = Shard.FromSlurm(context.Environment.Get);
            if (array is { } a) from.Add($"Slurm array task {a}");
            sharded |= array is not null;
            shard = array ?? Shard.Whole;
            if (launcher is not null)
            {
                shard = launcher.ShardOf(shard);
                from.Add($"{launcher.Name} rank {launcher.Rank} of {launcher.Size}" + (launcher.LocalRank is { } l ? $" (local rank {l})" : ""));
            }
        }
        var given = outputPath;
        if (outputPath is not null)
            outputPath = shard.NameOutput(outputPath, insertTag: o.Shard is null && sharded);
        var to = outputPath != given ? $"; results to {outputPath}" : "";
        if (from.Count > 0)
        {
            var (start, length) = shard.RangeOf(total);
            context.Error.WriteLine(launcher is null
                ? $"classify: shard {shard} from Slurm's environment: images {start + 1}-{start + length} of {total} (--shard 0/1 classifies all){to}"
                : $"classify: {string.Join(", ", from)}: shard {shard}, {(length == 0 ? "no images" : $"images {start + 1}-{start + length}")} of {total}, on {device} (--shard 0/1 classifies all){to}");
        }
        else if (launcher is not null)
        {
            context.Error.WriteLine($"classify: {launcher.Name} rank {launcher.Rank} of {launcher.Size}: shard {shard} (--shard), on {device}");
        }
        if (!shard.IsWhole)
            inputs = [.. shard.Slice(inputs)];
        return (shard, sharded);
    }
}
