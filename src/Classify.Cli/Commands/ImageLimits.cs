using Classify.Images;

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
}
