using Classify.Output;
using CommandLine;

namespace Classify.Cli.Commands;

[Verb("classify", isDefault: true, HelpText = "Classify images (the default command).")]
internal sealed class ClassifyOptions : IImageLimitOptions
{
    [Help("Inputs")]
    [Value(0, MetaName = "PATH", HelpText = "Images, folders of images (as --image_dir) or lists of image paths (.txt, .lst, .list; '-' = paths on standard input), in the order given, before the inputs of the flags below.")]
    public IEnumerable<string> Paths { get; set; } = [];

    [Help("Inputs", "FILE")]
    [Option("image_file", HelpText = "Image to classify (repeatable). Without any input: the bundled example cat.")]
    public IEnumerable<string> ImageFiles { get; set; } = [];

    [Help("Inputs", "TAR")]
    [Option("image_tar", HelpText = "Uncompressed tar archive (repeatable; a positional *.tar too): its image members, in archive order, classified without extracting; results name them ARCHIVE/MEMBER.")]
    public IEnumerable<string> ImageTars { get; set; } = [];

    [Help("Inputs", "DIR")]
    [Option("image_dir", HelpText = "Classify every image (jpg, jpeg, png, bmp, gif, webp) in this folder, in sorted order.")]
    public string? ImageDir { get; set; }

    [Help("Inputs")]
    [Option("recursive", HelpText = "With --image_dir: include subfolders.")]
    public bool Recursive { get; set; }

    [Help("Inputs", "FILE")]
    [Option("image_list", HelpText = "File with one image path per line ('-' = standard input); split on newlines only, a CRLF's CR dropped, nothing trimmed, blank and '#' lines skipped; relative names resolve against the working directory.")]
    public string? ImageList { get; set; }

    [Help("Inputs")]
    [Option("null", HelpText = "Lists (--image_list, '-', .txt paths) are NUL-separated, as find -print0 writes them.")]
    public bool NullSeparated { get; set; }

    [Help("Model", "NAME|PATH")]
    [Option("model", HelpText = "Model name in the model directory, or a path to a model folder or to a .onnx/.pt file with model.json beside it. Default: mobilenet_edgetpu_224_1.0_float (75.6% top-1; squeezenet1.1 is the fastest on a CPU).")]
    public string? Model { get; set; }

    [Help("Model", "DIR")]
    [Option("model_dir", HelpText = "Look for models in DIR alone (and the download cache). Default: the folders of $CLASSIFY_MODEL_DIR, then the bundled models/.")]
    public string? ModelDir { get; set; }

    [Help("Output", "N")]
    [Option("num_top_predictions", Default = 5, HelpText = "Display this many predictions.")]
    public int NumTopPredictions { get; set; }

    [Help("Output", "text|json|jsonl|csv|parquet")]
    [Option("format", HelpText = "text (classify_image.py's lines), json, jsonl (one object per image), csv or parquet (one row per image; needs --output FILE). Default: from --output's extension (.jsonl, .json, .csv, .txt, .parquet), else text.")]
    public OutputFormat? Format { get; set; }

    [Help("Output", "FILE|-")]
    [Option("output", HelpText = "Write results to this file (atomically: it appears only when complete) instead of standard output ('-' = standard output). {shard} in the name becomes this process's shard, zero-padded: results.{shard}.jsonl -> results.shard-0003-of-0016.jsonl.")]
    public string? Output { get; set; }

    [Help("Output")]
    [Option("features", HelpText = "Also write each image's embedding (the model's pooled activations before the classifier, output.features in model.json) from the same pass, into FILE's name with .features.npy (needs --output FILE): one row per result record, in the same order; a failed image's row is zeros.")]
    public bool Features { get; set; }

    [Help("Output", "float16|float32")]
    [Option("features_dtype", HelpText = "The element type of the --features .npy. Default: float16.")]
    public Output.Features.FeaturesDtype? FeaturesDtype { get; set; }

    [Help("Model", "onnx|torch")]
    [Option("backend", Default = "onnx", HelpText = "Inference engine: onnx (ONNX Runtime) or torch (TorchSharp, TorchScript models).")]
    public string Backend { get; set; } = "onnx";

    [Help("Device", "auto|cuda|cpu")]
    [Option("device", Default = Inference.DeviceRequest.Auto, HelpText = "auto (CUDA when usable, else CPU), cuda or cpu.")]
    public Inference.DeviceRequest Device { get; set; }

    [Help("Device", "N")]
    [Option("gpu", HelpText = "Index of the GPU to use (among the visible ones). Default: 0; under mpirun or srun, the rank's node-local rank modulo the GPUs in CUDA_VISIBLE_DEVICES.")]
    public int? Gpu { get; set; }

    [Help("Device")]
    [Option("require-gpu", HelpText = "Fail (exit 20) with the diagnosis instead of running on the CPU when no GPU is usable.")]
    public bool RequireGpu { get; set; }

    [Help("Performance")]
    [Option("fp16", HelpText = "CUDA only: run the model in half precision (ONNX Runtime runs the model's onnx-fp16 file; TorchSharp converts the weights).")]
    public bool Fp16 { get; set; }

    [Help("Performance")]
    [Option("channels_last", HelpText = "CUDA only: NHWC (channels_last) memory layout for the convolutions (ONNX Runtime: prefer_nhwc).")]
    public bool ChannelsLast { get; set; }

    [Help("Performance", "N")]
    [Option("batch_size", HelpText = "Images decoded and run together. Default: 8 on the CPU (as fast as larger batches there, in half the memory), 32 on a GPU; classify bench measures them.")]
    public int? BatchSize { get; set; }

    [Help("Performance")]
    [Option("full_decode", HelpText = "Decode every JPEG at its full size. By default libjpeg-turbo scales a large JPEG down in the DCT to the smallest size that is still at least twice what the model's resize needs (about 2x faster on 12-megapixel photos; the same top-1 as a full decode except where the top two nearly tie); images smaller than that are decoded in full either way.")]
    public bool FullDecode { get; set; }

    /// <summary>--jpeg_dct_scale, the default since issue 30: still accepted (old job scripts), not in the help.</summary>
    [Option("jpeg_dct_scale", Hidden = true)]
    public bool JpegDctScale { get; set; }

    [Help("Performance", "N")]
    [Option("threads", Default = 0, HelpText = "CPU threads for inference and decoding (0 = all cores).")]
    public int Threads { get; set; }

    [Help("Cluster", "I/N")]
    [Option("shard", HelpText = "Classify only part I of N (0-based, contiguous, balanced) of the ordered inputs, e.g. 3/16; 0/1 = all. Default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT in an array job, or the world rank and size under mpirun (Open MPI, MPICH, Intel MPI, MVAPICH2, PMIx) or srun.")]
    public string? Shard { get; set; }

    [Help("Inputs", "MIB")]
    [Option("max_file_size", Default = 256, HelpText = "Refuse image files larger than this many MiB without reading them (exit 6).")]
    public long MaxFileSizeMib { get; set; } = 256;

    [Help("Inputs", "SECONDS")]
    [Option("decode_timeout", Default = 20.0, HelpText = "Stop decoding one image after this many seconds and report it (exit 9).")]
    public double DecodeTimeoutSeconds { get; set; } = 20;

    [Help("Output")]
    [Option("retry_failed", HelpText = "When resuming from FILE.partial, read every image whose failure it recorded again (failures outside the file, exit 17, are always read again).")]
    public bool RetryFailed { get; set; }

    [Help("Output", "SECONDS")]
    [Option("progress_interval", HelpText = "Seconds between progress lines on standard error when it is not a terminal (a Slurm log); on a terminal one line is updated in place. Setting it also asks for the summary. Default: 30.")]
    public double? ProgressInterval { get; set; }

    [Help("Output")]
    [Option("quiet", HelpText = "No progress line and no summary (results and per-image errors still appear).")]
    public bool Quiet { get; set; }

    [Help("Output")]
    [Option("verbose", HelpText = "Print what was chosen (model, backend, device) and the summary (counts, img/s, where the time went) on standard error.")]
    public bool Verbose { get; set; }
}
