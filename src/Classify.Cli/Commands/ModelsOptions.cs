using CommandLine;

namespace Classify.Cli.Commands;

[Verb("models list", HelpText = "List the bundled, downloaded and downloadable models: name, size, published top-1, licence, where it is.")]
internal sealed class ModelsListOptions
{
    [Help("Options", "DIR")]
    [Option("model_dir", HelpText = "Look for models in DIR alone (and the download cache) instead of $CLASSIFY_MODEL_DIR and the bundled folder.")]
    public string? ModelDir { get; set; }
}

[Verb("models pull", HelpText = "Download catalogue models into the cache ($CLASSIFY_CACHE, else $XDG_CACHE_HOME/classify, else ~/.cache/classify), checked against their sha256; an interrupted pull resumes. Run it on a login node: compute nodes often have no internet.")]
internal sealed class ModelsPullOptions
{
    [Option("force", HelpText = "Download again even when the model is in the cache.")]
    public bool Force { get; set; }

    [Value(0, MetaName = "NAME", Min = 1, HelpText = "Catalogue model names or aliases (classify models list).")]
    public IEnumerable<string> Names { get; set; } = [];
}

[Verb("models verify", HelpText = "Check every model file (or those of the models named) against its sha256. Exit 0: all good; 11: a file is corrupt.")]
internal sealed class ModelsVerifyOptions
{
    [Help("Options", "DIR")]
    [Option("model_dir", HelpText = "Look for models in DIR alone (and the download cache) instead of $CLASSIFY_MODEL_DIR and the bundled folder.")]
    public string? ModelDir { get; set; }

    [Value(0, MetaName = "NAME", HelpText = "Models to check; default: all installed ones.")]
    public IEnumerable<string> Names { get; set; } = [];
}

[Verb("models path", HelpText = "Print the folder of each installed model named (bundled, from $CLASSIFY_MODEL_DIR, or downloaded), a line each. Exit 10 when one is not installed.")]
internal sealed class ModelsPathOptions
{
    [Help("Options", "DIR")]
    [Option("model_dir", HelpText = "Look for models in DIR alone (and the download cache) instead of $CLASSIFY_MODEL_DIR and the bundled folder.")]
    public string? ModelDir { get; set; }

    [Value(0, MetaName = "NAME", Min = 1, HelpText = "Model names or catalogue aliases.")]
    public IEnumerable<string> Names { get; set; } = [];
}

[Verb("models rm", HelpText = "Delete downloaded models from the cache (bundled models stay).")]
internal sealed class ModelsRmOptions
{
    [Value(0, MetaName = "NAME", Min = 1, HelpText = "Downloaded model names or aliases.")]
    public IEnumerable<string> Names { get; set; } = [];
}

[Verb("models add", HelpText = "Write the model.json for your own ONNX image classifier, beside it, from a preset of the preprocessing it was trained with; the input and output are read from the model. Then: classify --model FILE.onnx, or --model DIR.")]
internal sealed class ModelsAddOptions
{
    [Help("Options", "NAME")]
    [Option("preset", Required = true, HelpText = "torchvision (Resize 256, CenterCrop 224, RGB/255, ImageNet mean/std), inception (central 87.5%, 299, (x-127.5)/127.5), caffe-bgr (Resize 256, CenterCrop 224, BGR, mean subtracted), tf-mobilenet (central 87.5%, 224, (x-127.5)/127.5).")]
    public string Preset { get; set; } = "";

    [Help("Options", "FILE")]
    [Option("labels", HelpText = "Class names, one per line, in output order. Default: the ImageNet labels for 1000 or 1001 outputs.")]
    public string? Labels { get; set; }

    [Help("Options", "NAME")]
    [Option("name", HelpText = "The model's name in results. Default: the file name without .onnx.")]
    public string? Name { get; set; }

    [Option("force", HelpText = "Replace an existing model.json.")]
    public bool Force { get; set; }

    [Help("Options", "TENSOR")]
    [Option("features", HelpText = "Expose this tensor, the pooled activations before the classifier, as a second graph output for classify --features (the model file is rewritten, atomically). A tensor's name, or GlobalAveragePool(T), DequantizeLinear(T,SCALE,ZERO_POINT) or Flatten(T) to make it from one.")]
    public string? Features { get; set; }

    [Value(0, MetaName = "FILE.onnx", Min = 1, Max = 1, HelpText = "Your model.")]
    public IEnumerable<string> Files { get; set; } = [];
}
