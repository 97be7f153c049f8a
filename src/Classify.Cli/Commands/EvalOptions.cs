using CommandLine;

namespace Classify.Cli.Commands;

[Verb("eval", HelpText = "Measure a model's accuracy on labelled images: top-1 and top-5 with 95% confidence intervals, per class, the most confused pairs and calibration. From images (DIR with one folder per class, named by WordNet id or label, or --truth FILE), or from results classify wrote (--results FILE --truth FILE, e.g. a sharded run's merge). Exit 0; 7 when some image failed (counted and listed); 31 when the labels name no class of the model.")]
internal sealed class EvalOptions
{
    [Value(0, MetaName = "DIR", HelpText = "A folder of class folders (n02124075/, or Egyptian_cat/), images anywhere below each; with --truth, the folder its relative names are in.")]
    public string? Directory { get; set; }

    [Help("Options", "FILE")]
    [Option("truth", HelpText = "csv or tsv of FILE,LABEL per line (a header 'file,label', 'file,class' or 'file,synset' says what the second column is; without one, n######## is a WordNet id, else a label). Relative names resolve against DIR, else the working directory.")]
    public string? Truth { get; set; }

    [Help("Options", "FILE")]
    [Option("results", HelpText = "Evaluate these results (jsonl, json, csv or text, as classify or classify merge wrote them) instead of classifying; images are matched by path, else by file name.")]
    public string? Results { get; set; }

    [Option("json", HelpText = "Print one JSON object (every failed, unlabelled and missing image listed) instead of the table.")]
    public bool Json { get; set; }

    [Help("Options", "NAME|PATH")]
    [Option("model", HelpText = "As for classify (default: the default model; with --results, the model named in them).")]
    public string? Model { get; set; }

    [Help("Options", "DIR")]
    [Option("model_dir", HelpText = "As for classify.")]
    public string? ModelDir { get; set; }

    [Help("Options", "FILE")]
    [Option("output", HelpText = "Keep the classification results in FILE (any classify format; a rerun after an interruption resumes it).")]
    public string? Output { get; set; }

    [Help("Options", "onnx|torch")]
    [Option("backend", HelpText = "As for classify.")]
    public string? Backend { get; set; }

    [Help("Options", "auto|cuda|cpu")]
    [Option("device", HelpText = "As for classify.")]
    public string? Device { get; set; }

    [Help("Options", "N")]
    [Option("gpu", HelpText = "As for classify.")]
    public int? Gpu { get; set; }

    [Option("require-gpu", HelpText = "As for classify.")]
    public bool RequireGpu { get; set; }

    [Option("fp16", HelpText = "As for classify.")]
    public bool Fp16 { get; set; }

    [Help("Options", "N")]
    [Option("batch_size", HelpText = "As for classify.")]
    public int? BatchSize { get; set; }

    [Help("Options", "N")]
    [Option("threads", HelpText = "As for classify.")]
    public int? Threads { get; set; }

    [Option("full_decode", HelpText = "As for classify: decode every JPEG at its full size.")]
    public bool FullDecode { get; set; }

    /// <summary>The default since issue 30; accepted for old scripts, not in the help.</summary>
    [Option("jpeg_dct_scale", Hidden = true)]
    public bool JpegDctScale { get; set; }

    [Option("quiet", HelpText = "As for classify: no progress line.")]
    public bool Quiet { get; set; }
}
