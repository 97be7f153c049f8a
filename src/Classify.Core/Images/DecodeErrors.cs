using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Memory;

namespace Classify.Images;

/// <summary>The errors of decoding, in classify's words: a timeout, a decoder's exception by kind, a file cut inside its
/// header.</summary>
internal static class DecodeErrors
{
    /// <summary>The error of an image whose decode passed --decode_timeout: the same words whether the decoder stopped
    /// at its token or the watchdog abandoned it, so that a file's record does not depend on which came first.</summary>
    public static ClassifyException TimedOut(string path, string? format, TimeSpan timeout) =>
        new(ExitCode.ImageTimeout, path,
            $"decoding {format ?? "the image"} took over {timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s (--decode_timeout)");

    /// <summary>The exit code and message for a decoder's exception: memory it could not have is a too-large image,
    /// a variant it does not implement an unsupported one, anything else corrupt data.</summary>
    public static ClassifyException DecoderFailure(Exception e, string format, string path) => e switch
    {
        InvalidMemoryOperationException or ImageFormatException { InnerException: InvalidMemoryOperationException }
            => new(ExitCode.ImageTooLarge, path, $"cannot decode {format}: it needs more memory than one image may have ({e.Message})"),
        NotSupportedException => new(ExitCode.ImageUnsupported, path, $"an unsupported kind of {format}: {e.Message}"),
        ImageFormatException => new(ExitCode.ImageCorrupt, path, $"cannot decode {format}: {e.Message}"),
        _ => new(ExitCode.ImageCorrupt, path, $"corrupt {format} data (the decoder failed: {e.GetType().Name})"),
    };

    /// <summary>The format whose signature a file too short for ImageSharp's detection starts with (a download or
    /// copy cut after a few bytes is a truncated image, not a file of another kind), or null.</summary>
    /// <summary>What a compressed file or archive is, from its magic bytes ("a gzip-compressed file"), or null.</summary>
    public static string? Archive(ReadOnlySpan<byte> b) =>
        b.StartsWith((ReadOnlySpan<byte>)[0x1f, 0x8b]) ? "a gzip-compressed file (.gz, .tgz)"
        : b.StartsWith("BZh"u8) ? "a bzip2-compressed file"
        : b.StartsWith((ReadOnlySpan<byte>)[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) ? "an xz-compressed file"
        : b.StartsWith((ReadOnlySpan<byte>)[0x28, 0xb5, 0x2f, 0xfd]) ? "a zstd-compressed file"
        : b.StartsWith("PK\x03\x04"u8) ? "a zip archive"
        : b.StartsWith((ReadOnlySpan<byte>)[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]) ? "a 7-zip archive"
        : null;

    public static string? TruncatedHeader(ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<byte> png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (bytes.Length >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8 && (bytes.Length == 2 || bytes[2] == 0xFF))
            return "JPEG";
        if (bytes.Length >= 4 && png.StartsWith(bytes[..Math.Min(bytes.Length, 8)]))
            return "PNG";
        if (bytes.Length < 13 && bytes.StartsWith("GIF8"u8))
            return "GIF";
        if (bytes.Length < 30 && bytes.StartsWith("RIFF"u8) && (bytes.Length < 12 || bytes[8..12].SequenceEqual("WEBP"u8)))
            return "WebP";
        return null;
    }
}
