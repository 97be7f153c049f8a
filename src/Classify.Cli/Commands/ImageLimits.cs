using Classify.Images;
using Classify.Models;
using Classify.Preprocessing;

namespace Classify.Cli.Commands;

/// <summary>The image-reading limits a command takes from the command line (classify, classify decode).</summary>
internal interface IImageLimitOptions
{
    long MaxFileSizeMib { get; }
    double DecodeTimeoutSeconds { get; }
}

internal static class ImageLimits
{
    /// <summary>The loader's options from <paramref name="o"/>, or a usage error for values that make no sense.</summary>
    public static ImageLoaderOptions LoaderOptions(IImageLimitOptions o)
    {
        if (o.MaxFileSizeMib < 1)
            throw new ClassifyException(ExitCode.Usage, null, "--max_file_size must be at least 1 (MiB)");
        if (!(o.DecodeTimeoutSeconds > 0) || o.DecodeTimeoutSeconds > 86400)
            throw new ClassifyException(ExitCode.Usage, null, "--decode_timeout must be a number of seconds above 0");
        return new ImageLoaderOptions
        {
            MaxFileBytes = o.MaxFileSizeMib << 20,
            DecodeTimeout = TimeSpan.FromSeconds(o.DecodeTimeoutSeconds),
        };
    }

    /// <summary>How classify decodes for a model with <paramref name="input"/>: a large JPEG scaled in libjpeg-turbo's
    /// DCT to at least twice what the model's resize needs (the default since issue 30), or whole with --full_decode.
    /// classify, decode --model and bench's data path all decode through this.</summary>
    public static ImageLoaderOptions ForModel(ImageLoaderOptions options, InputSpec input, bool fullDecode) =>
        fullDecode ? options : options with { DecodeAtLeast = new Preprocessor(input).DecodeAtLeast };
}
