using Classify.Models;

namespace Classify.Inference;

/// <summary>What a command asked for: the model, the engine and the device options, as typed.</summary>
public sealed record ModelRequest
{
    /// <summary>A model name, folder or file; null: the default model.</summary>
    public string? Model { get; init; }

    public string Backend { get; init; } = "onnx";
    public DeviceRequest Device { get; init; } = DeviceRequest.Auto;
    public bool Half { get; init; }
    public bool ChannelsLast { get; init; }

    /// <summary>--gpu as given (null: not given).</summary>
    public int? Gpu { get; init; }
}

/// <summary>
/// The model a run executes and the engine that runs it, decided once for every command that runs a model (classify,
/// bench): the request checked against itself, the backend (a model file given by path picks its engine), and the file
/// of the manifest to run (--fp16 on ONNX Runtime runs the model's fp16 copy).
/// </summary>
public sealed record ModelPlan(ModelManifest Manifest, IBackendFactory Factory, string ModelFile)
{
    /// <exception cref="ClassifyException">A contradiction in the request (exit 2), an unknown or missing model or
    /// model file (10), a backend that cannot run it (15).</exception>
    public static ModelPlan Make(ModelRequest request, ModelCatalog catalog, IReadOnlyDictionary<string, IBackendFactory> backends, CancellationToken cancel)
    {
        CheckDeviceOptions(request);
        if (!backends.TryGetValue(request.Backend, out var factory))
            throw new ClassifyException(ExitCode.Usage, null, $"unknown backend '{request.Backend}'; available: {string.Join(", ", backends.Keys)}");
        var manifest = catalog.Resolve(request.Model ?? ModelCatalog.DefaultModel, out var fileFormat, cancel);
        factory = PickBackend(factory, backends, request.Model, manifest, fileFormat);
        return new ModelPlan(manifest, factory, ModelFileOf(request.Half, factory, manifest, fileFormat));
    }

    /// <summary>Options for a device the run was told not to use would be ignored without a word.</summary>
    private static void CheckDeviceOptions(ModelRequest r)
    {
        if (r.Gpu is < 0)
            throw new ClassifyException(ExitCode.Usage, null, "--gpu must be 0 or more (an index among the visible GPUs)");
        if (r.Device == DeviceRequest.Cpu && (r.Half || r.ChannelsLast || r.Gpu > 0))
            throw new ClassifyException(ExitCode.Usage, null,
                $"{(r.Half ? "--fp16" : r.ChannelsLast ? "--channels_last" : $"--gpu {r.Gpu}")} applies to CUDA only and contradicts --device cpu; see classify --help");
    }

    private static IBackendFactory PickBackend(IBackendFactory factory, IReadOnlyDictionary<string, IBackendFactory> backends, string? model,
        ModelManifest manifest, string? fileFormat)
    {
        // A model file given by path decides the engine: a .pt runs on TorchSharp even without --backend torch.
        if (fileFormat is not null && ModelFormats.Engine(fileFormat) != factory.FileFormat)
        {
            factory = backends.Values.FirstOrDefault(f => f.FileFormat == ModelFormats.Engine(fileFormat))
                ?? throw new ClassifyException(ExitCode.BackendUnavailable, model, $"no backend in this build runs {fileFormat} models");
        }
        if (!manifest.Files.ContainsKey(factory.FileFormat))
            throw new ClassifyException(ExitCode.ModelNotFound, Path.Combine(manifest.Directory, ModelManifest.FileName),
                $"model '{manifest.Name}' has no {factory.FileFormat} file for backend '{factory.Name}' (it has: {string.Join(", ", manifest.Files.Keys)})");
        return factory;
    }

    /// <summary>The manifest's key of the file to run. --fp16 on an engine that does not convert weights itself (ONNX
    /// Runtime) runs the model's fp16 copy, so a run that asked for half precision never silently runs float32.</summary>
    public static string ModelFileOf(bool half, IBackendFactory factory, ModelManifest manifest, string? fileFormat)
    {
        if (fileFormat is not null)
        {
            if (ModelFormats.Engine(fileFormat) != factory.FileFormat)
                throw new ClassifyException(ExitCode.Usage, null, $"--model names a {fileFormat} file, which backend {factory.Name} does not run; see --backend");
            if (half && !factory.ConvertsToHalf && !ModelFormats.IsFp16(fileFormat))
                throw new ClassifyException(ExitCode.Usage, null,
                    $"--fp16 runs the model's {ModelFormats.Fp16(factory.FileFormat)} file, and --model names its {fileFormat} file: give the model's name or its fp16 file");
            return fileFormat;
        }
        if (!half || factory.ConvertsToHalf)
            return factory.FileFormat;
        var fp16 = ModelFormats.Fp16(factory.FileFormat);
        if (!manifest.Files.ContainsKey(fp16))
            throw new ClassifyException(ExitCode.ModelNotFound, Path.Combine(manifest.Directory, ModelManifest.FileName),
                $"model '{manifest.Name}' has no {fp16} file, which --fp16 runs on ONNX Runtime (it has: {string.Join(", ", manifest.Files.Keys)}); add one to \"files\", or use --backend torch, which converts the weights itself");
        return fp16;
    }

    /// <summary>CLASSIFY_GPU_PREPROCESS=off keeps the cast, normalisation and layout on the CPU on a GPU run too (a
    /// way around a device or driver that mishandles it; README, GPU); otherwise the backend decides.</summary>
    public static bool? DevicePreprocessingSetting(Func<string, string?> environment) =>
        environment("CLASSIFY_GPU_PREPROCESS") is "off" or "0" or "false" ? false : null;

    /// <summary>The backend's options for this plan; the caller adds what only it knows (the GPU index, the log).</summary>
    public BackendOptions Options(ModelRequest request, int threads, Func<string, string?> environment) => new()
    {
        Device = request.Device,
        IntraOpThreads = threads,
        Half = request.Half,
        ChannelsLast = request.ChannelsLast,
        ModelFile = ModelFile,
        DevicePreprocessing = DevicePreprocessingSetting(environment),
    };
}
