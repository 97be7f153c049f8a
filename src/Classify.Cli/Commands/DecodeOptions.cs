using CommandLine;

namespace Classify.Cli.Commands;

[Verb("decode", HelpText = "Write the upright RGB pixels classify sees in an image as a binary PPM (P6), to check a decoder or an orientation; with --model, the model's input picture after the resize.")]
internal sealed class DecodeOptions : IImageLimitOptions
{
    [Value(0, MetaName = "IMAGE", Required = true, HelpText = "The image file.")]
    public string Image { get; set; } = "";

    [Help("Options", "OUT.ppm|-")]
    [Option("output", Required = true, HelpText = "The PPM file to write ('-' = standard output).")]
    public string Output { get; set; } = "";

    [Help("Options", "NAME|DIR")]
    [Option("model", HelpText = "Write what this model sees instead: the picture resized (and cropped) as its model.json says, before normalisation.")]
    public string? Model { get; set; }

    [Option("full_decode", HelpText = "With --model: decode a large JPEG at its full size, as classify --full_decode does (by default it is scaled in the DCT, as classify does).")]
    public bool FullDecode { get; set; }

    [Help("Options", "DIR")]
    [Option("model_dir", HelpText = "As for classify: look for models in DIR alone (default: $CLASSIFY_MODEL_DIR, then the bundled models).")]
    public string? ModelDir { get; set; }

    [Help("Options", "MIB")]
    [Option("max_file_size", Default = 256, HelpText = "As for classify: refuse files over this many MiB.")]
    public long MaxFileSizeMib { get; set; } = 256;

    [Help("Options", "SECONDS")]
    [Option("decode_timeout", Default = 20.0, HelpText = "As for classify: stop decoding after this many seconds.")]
    public double DecodeTimeoutSeconds { get; set; } = 20;
}
