using Classify.Backends.Onnx;
using Classify.Inference;
using Classify.Models;

namespace Classify.Cli.Commands;

/// <summary>
/// `classify models add FILE.onnx --preset P`: writes the model.json a user's own model needs. The input's name,
/// type, layout and size and the output's name and size come from ONNX Runtime; whether the output is already a
/// softmax is found by running the model once; the preprocessing comes from the preset. The manifest is then loaded
/// like any other (ONNX Runtime checks it against the model) before it is left in place.
/// </summary>
internal sealed class ModelsAddCommand(RunContext context)
{
    public int Run(ModelsAddOptions o)
    {
        var file = Path.GetFullPath(o.Files.Single());
        if (!File.Exists(file))
            throw new ClassifyException(ExitCode.ModelNotFound, o.Files.Single(), "no such model file");
        var preset = ModelPresets.Find(o.Preset) ?? throw new ClassifyException(ExitCode.Usage, null,
            $"--preset must be one of {string.Join(", ", ModelPresets.All.Select(p => p.Name))}");
        var dir = Path.GetDirectoryName(file)!;
        var manifestPath = Path.Combine(dir, ModelManifest.FileName);
        if (File.Exists(manifestPath) && !o.Force)
            throw new ClassifyException(ExitCode.Usage, manifestPath, "exists already (one model.json per folder); use --force to replace it, or put the model in a folder of its own");

        if (o.Features is { } spec)
            AddFeatures(file, spec);
        var info = OnnxModelInfo.Read(file);
        var nchw = info.InputDims[1] == 3 || (info.InputDims[1] <= 0 && info.InputDims[3] != 3);
        var (h, w) = nchw ? (info.InputDims[2], info.InputDims[3]) : (info.InputDims[1], info.InputDims[2]);
        if (h <= 0) h = w > 0 ? w : preset.DefaultSize;
        if (w <= 0) w = h;

        var (labelsPath, first, synsets) = Labels(o.Labels, info.Classes, dir, file);
        var name = o.Name ?? Path.GetFileNameWithoutExtension(file);
        var temp = manifestPath + $".tmp-{Environment.ProcessId}";
        File.WriteAllBytes(temp, Manifest(name, o.Preset, Path.GetFileName(file), labelsPath, synsets, dir, first, info, nchw, w, h, preset));
        try
        {
            var manifest = ModelCatalog.Load(temp);
            using (new OnnxBackendFactory().Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu, IntraOpThreads = 1 })) { }
            Classify.Models.Labels.Load(manifest);
            File.Move(temp, manifestPath, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
        context.Error.WriteLine($"classify: wrote {manifestPath}: {name}, input '{info.Input}' {(nchw ? "NCHW" : "NHWC")} {w}x{h} {(info.InputIsUint8 ? "uint8" : "float32")} " +
            $"with the {preset.Name} preprocessing, {info.Classes} {(info.OutputsProbabilities ? "probabilities" : "logits")}"
            + (info.Features is { } f ? $", embedding '{f}' (--features)" : "") + $"; run it with: classify --model {o.Files.Single()} IMAGE");
        return ExitCode.Success;
    }

    /// <summary>Rewrites the model file with the embedding <paramref name="spec"/> names as a second output (atomically;
    /// a model that has it already is left as it is).</summary>
    private void AddFeatures(string file, string spec)
    {
        Classify.Backends.Onnx.Graph.FeatureOutput.Result result;
        var before = File.ReadAllBytes(file);
        try
        {
            result = Classify.Backends.Onnx.Graph.FeatureOutput.Add(before, spec);
        }
        catch (InvalidDataException e)
        {
            throw new ClassifyException(ExitCode.ManifestInvalid, file, e.Message.StartsWith("--features", StringComparison.Ordinal) ? e.Message : $"--features {spec}: {e.Message}");
        }
        if (ReferenceEquals(result.Model, before))
            return;
        var temp = file + $".tmp-{Environment.ProcessId}";
        try
        {
            File.WriteAllBytes(temp, result.Model);
            File.Move(temp, file, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            throw new ClassifyException(ExitCode.OutputFailed, file, $"cannot rewrite the model with its features output: {e.Message}");
        }
        context.Error.WriteLine($"classify: {file}: added the graph output '{result.Output}' ({result.Width} {(result.Half ? "float16" : "float32")} values per image) for --features");
    }

    /// <summary>The labels file and the output index of its first class: --labels, else the ImageNet names copied beside
    /// the model for 1000 outputs (or 1001, "background" first) with their WordNet ids, so that the folder is complete on
    /// its own.</summary>
    private static (string Path, int First, string? Synsets) Labels(string? labels, long classes, string dir, string model)
    {
        if (labels is not null)
        {
            if (!File.Exists(labels))
                throw new ClassifyException(ExitCode.ModelNotFound, labels, "labels file not found");
            return (Path.GetFullPath(labels), 0, null);
        }
        if (classes is not (1000 or 1001))
            throw new ClassifyException(ExitCode.LabelsMismatch, model,
                $"the model has {classes} outputs, not ImageNet's 1000: give its class names with --labels FILE (one per line, in output order)");
        string CopyBundled(string name)
        {
            var copy = Path.Combine(dir, name);
            if (!File.Exists(copy)) File.Copy(Path.Combine(ModelCatalog.BundledModelDir(), "labels", name), copy);
            return copy;
        }
        return (CopyBundled("imagenet_labels_1000.txt"), classes == 1001 ? 1 : 0, CopyBundled("synset.txt"));
    }

    private static byte[] Manifest(string name, string presetName, string fileName, string labelsPath, string? synsets, string dir, int first,
        OnnxModelInfo info, bool nchw, int w, int h, ModelPresets.Preset preset) => ManifestWriter.Write(new ModelManifest
    {
        Name = name,
        Description = $"Written by classify models add --preset {presetName}.",
        Files = new() { ["onnx"] = new ModelFile { Path = fileName, Sha256 = ModelCatalog.Sha256Of(Path.Combine(dir, fileName)) } },
        Labels = new LabelsSpec
        {
            Path = Path.GetRelativePath(dir, labelsPath),
            Sha256 = ModelCatalog.Sha256Of(labelsPath),
            FirstClassOutput = first,
            Synsets = synsets is null ? null : Path.GetRelativePath(dir, synsets),
            SynsetsSha256 = synsets is null ? null : ModelCatalog.Sha256Of(synsets),
        },
        Input = new InputSpec
        {
            Name = info.Input,
            Layout = nchw ? TensorLayout.Nchw : TensorLayout.Nhwc,
            ElementType = info.InputIsUint8 ? TensorElementKind.Uint8 : TensorElementKind.Float32,
            Width = w,
            Height = h,
            ChannelOrder = preset.Channels,
            // A uint8 input takes raw pixels: the model normalises them itself.
            Scale = info.InputIsUint8 ? 1 : preset.Scale,
            Mean = info.InputIsUint8 ? [0, 0, 0] : preset.Mean,
            Std = info.InputIsUint8 ? [1, 1, 1] : preset.Std,
            Resize = preset.Resize(Math.Min(w, h)),
        },
        Output = new OutputSpec
        {
            Name = info.Output,
            Kind = info.OutputsProbabilities ? OutputKind.Probabilities : OutputKind.Logits,
            Classes = checked((int)info.Classes),
            Features = info.Features,
        },
    });
}
