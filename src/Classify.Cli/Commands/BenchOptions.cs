using CommandLine;

namespace Classify.Cli.Commands;

[Verb("bench", HelpText = "Measure throughput to size a job or compare nodes: the model alone at several batch sizes on the chosen device, the data path alone (decode through tensor, no model; 1 thread and --threads) and the CPU cores that keep the model busy, then, with --images, end to end over a folder (decode, model and output, results discarded).")]
internal sealed class BenchOptions
{
    [Help("Options", "NAME|PATH")]
    [Option("model", HelpText = "Model name or path, as for classify. Default: mobilenet_edgetpu_224_1.0_float (the default model).")]
    public string? Model { get; set; }

    [Help("Options", "DIR")]
    [Option("model_dir", HelpText = "As for classify: look for models in DIR alone (default: $CLASSIFY_MODEL_DIR, then the bundled models).")]
    public string? ModelDir { get; set; }

    [Help("Options", "onnx|torch")]
    [Option("backend", Default = "onnx", HelpText = "Inference engine.")]
    public string Backend { get; set; } = "onnx";

    [Help("Options", "auto|cuda|cpu")]
    [Option("device", Default = Inference.DeviceRequest.Auto, HelpText = "Device, as for classify.")]
    public Inference.DeviceRequest Device { get; set; }

    [Help("Options", "N")]
    [Option("gpu", Default = 0, HelpText = "Index of the GPU to use.")]
    public int Gpu { get; set; }

    [Help("Options")]
    [Option("fp16", HelpText = "As for classify: half precision on CUDA (ONNX Runtime runs the model's onnx-fp16 file).")]
    public bool Fp16 { get; set; }

    [Help("Options")]
    [Option("channels_last", HelpText = "As for classify: NHWC convolutions on CUDA.")]
    public bool ChannelsLast { get; set; }

    [Help("Options", "N")]
    [Option("threads", Default = 0, HelpText = "CPU threads (0 = all cores).")]
    public int Threads { get; set; }

    [Help("Options", "N,N,...")]
    [Option("batch_sizes", Default = "1,8,16,32,64,128", HelpText = "Batch sizes to time the model at.")]
    public string BatchSizes { get; set; } = "1,8,16,32,64,128";

    [Help("Options", "SECONDS")]
    [Option("seconds", Default = 2.0, HelpText = "Seconds to time each batch size, after a warm-up run, and the data path at each thread count (so 6 sizes x 2 s is at least 12 s, plus 4 s).")]
    public double Seconds { get; set; } = 2;

    [Help("Options", "DIR")]
    [Option("images", HelpText = "Time the data path on this folder's images (default: the bundled cat) and also classify it end to end (recursively) at classify's default batch size.")]
    public string? Images { get; set; }

    [Help("Options")]
    [Option("json", HelpText = "Print one JSON object instead of the table.")]
    public bool Json { get; set; }
}
