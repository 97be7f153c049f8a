using System.Runtime.CompilerServices;
using Classify.Images.Jpeg;
using Classify.Images.Png;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Images;

/// <summary>
/// Decodes a photo to upright RGB: only JPEG, PNG, BMP, GIF and WebP (ImageSharp 2.1's TIFF decoder has
/// unfixed advisories), read with bounds (<see cref="ImageFile"/>), scanned once by its format's scanner for its
/// structure to the end of the image, its data and its orientation (<see cref="Scan"/>), dimensions checked with
/// Identify before any pixel is decoded, decode time and memory bounded, EXIF orientation applied,
/// grayscale/CMYK/palette/alpha converted to RGB (alpha dropped, as PIL's convert("RGB") does). Metadata is not
/// decoded at all (<see cref="ExifOrientation"/> says why).
/// </summary>
public sealed partial class ImageLoader
{
    private readonly Configuration _configuration;
    private readonly ImageLoaderOptions _options;
    private readonly DecodeBudget _budget;
    private readonly DecodeBudget _files;
    private readonly Configuration _contiguous;

    /// <summary>libjpeg-turbo cannot be stopped by --decode_timeout, so it gets only JPEGs whose work is bounded:
    /// at most this many scans, and scans times pixels at most <see cref="MaxTurboJpegScanPixels"/> (a 13000x13000
    /// photo with the usual 10 progressive scans decodes in 2.8 s here; the limit allows about twice that work).
    /// The rest (the scan-count CPU bomb) goes to ImageSharp, which the timeout stops.</summary>
    private const int MaxTurboJpegScans = 64;
    private const long MaxTurboJpegScanPixels = 4_000_000_000;

    public ImageLoader(ImageLoaderOptions? options = null)
    {
        _options = options ?? ImageLoaderOptions.Default;
        _budget = new DecodeBudget(_options.DecodeBudgetBytes);
        _files = new DecodeBudget(_options.FileBudgetBytes);
        _configuration = new Configuration(
            new JpegConfigurationModule(), new PngConfigurationModule(), new BmpConfigurationModule(),
            new GifConfigurationModule(), new WebpConfigurationModule())
        {
            MemoryAllocator = new CleanMemoryAllocator((long)_options.AllocationLimitMegabytes << 20),
            // Images are decoded on several threads at once already; one core per image keeps them from fighting.
            MaxDegreeOfParallelism = 1,
        };
        var formats = _configuration.ImageFormatsManager;
        formats.SetDecoder(JpegFormat.Instance, new JpegDecoder { IgnoreMetadata = true });
        formats.SetDecoder(PngFormat.Instance, new PngDecoder { IgnoreMetadata = true });
        formats.SetDecoder(GifFormat.Instance, new GifDecoder { IgnoreMetadata = true, DecodingMode = FrameDecodingMode.First });
        formats.SetDecoder(WebpFormat.Instance, new WebpDecoder { IgnoreMetadata = true });
        // libjpeg-turbo decodes into one block of memory; the same allocator, asked for contiguous image buffers.
        _contiguous = _configuration.Clone();
        _contiguous.PreferContiguousImageBuffers = true;
    }

    /// <summary>--decode_timeout.</summary>
    public TimeSpan DecodeTimeout => _options.DecodeTimeout;

    public const string SupportedFormats = "JPEG, PNG, BMP, GIF, WebP";

    /// <summary>Which library decodes JPEG in this process, and where it was found or why it was not.</summary>
    public static string JpegDecoder => TurboJpeg.Status;

    /// <summary>Which library decodes PNG in this process, and where it was found or why it was not.</summary>
    public static string PngDecoder => Spng.Status;

    /// <summary>The libraries alone ("libjpeg-turbo", "libspng", "ImageSharp"): they decide pixels and errors, so a
    /// result's settings name them (ResultSettings).</summary>
    public static string JpegLibrary => NativeDecoder.Library(JpegDecoder);

    public static string PngLibrary => NativeDecoder.Library(PngDecoder);

    public Image<Rgb24> Decode(byte[] bytes, string path, CancellationToken cancel = default) =>
        DecodeCore(bytes, path, cancel, use: null, watch: null)!;

    /// <summary>Returns the image, or with <paramref name="use"/> runs it on the image under the budget lease,
    /// disposes the image and returns null.</summary>
    private Image<Rgb24>? DecodeCore(byte[] bytes, string path, CancellationToken cancel, Action<Image<Rgb24>>? use, DecodeWatch? watch,
        StrongBox<DecodeBudget.Lease>? keep = null)
    {
        if (bytes.Length == 0)
            throw new ClassifyException(ExitCode.ImageUnsupported, path, "is empty (0 bytes), not an image");
        if (bytes.Length > _options.MaxFileBytes)
            throw ImageFile.TooLarge(path, bytes.Length, _options.MaxFileBytes);
        var format = Image.DetectFormat(_configuration, bytes);
        if (format is null)
            throw DecodeErrors.TruncatedHeader(bytes) is { } name
                ? new ClassifyException(ExitCode.ImageCorrupt, path, $"truncated {name} file: its {bytes.Length} bytes end inside the header")
                : new ClassifyException(ExitCode.ImageUnsupported, path, DecodeErrors.Archive(bytes) is { } archive
                    ? $"{archive}, not an image: classify reads images ({SupportedFormats}) and uncompressed .tar archives; unpack it, or decompress it to a .tar"
                    : $"not an image in a supported format ({SupportedFormats})");
        if (watch is not null) watch.Format = format.Name;
        var scanned = Scan(format, bytes, path);
        bytes = scanned.Bytes;
        var (orientation, turbo, spng, jpegScans) = (scanned.Orientation, scanned.Turbo, scanned.Spng, scanned.JpegScans);
        var decoder = _configuration.ImageFormatsManager.FindDecoder(format);

        var inUse = false;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(_options.DecodeTimeout);
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            int width, height;
            if (turbo?.Header(bytes) is { Takes: true } header
                && (long)header.Width * header.Height * jpegScans <= MaxTurboJpegScanPixels)
                (width, height) = (header.Width, header.Height);
            else if (spng is not null)
                (width, height) = spng.Header(bytes, path);
            else
            {
                // CMYK/YCCK (ImageSharp converts them as PIL does), a header libjpeg cannot read, or too much work to
                // leave to a decoder that --decode_timeout cannot stop
                turbo = null;
                var info = ((IImageInfoDetector)decoder).Identify(_configuration, stream, timeout.Token)
                    ?? throw new ClassifyException(ExitCode.ImageUnsupported, path, $"not an image in a supported format ({SupportedFormats})");
                (width, height) = (info.Width, info.Height);
            }
            if (width <= 0 || height <= 0)
                throw new ClassifyException(ExitCode.ImageCorrupt, path, $"{format.Name} header gives an empty size {width}x{height}");
            var pixels = (long)width * height;
            if (pixels > _options.MaxPixels)
                throw new ClassifyException(ExitCode.ImageTooLarge, path,
                    $"{width}x{height} pixels is over the limit of {_options.MaxPixels:N0} pixels");
            // libspng reports data that ends early or a damaged zlib stream itself, as it decodes.
            if (scanned.Png is { } png && spng is null && PngImageData.Problem(bytes, png, timeout.Token) is { } problem)
                throw new ClassifyException(ExitCode.ImageCorrupt, path, problem);
            // Waiting for memory that other images hold is not this image's decoding time: the deadline starts again
            // once it has its share, so a batch of bombs cannot time its neighbours out.
            timeout.Token.ThrowIfCancellationRequested();
            watch?.Pause();
            // A prefetched image keeps its share until it is used (keep): held outside the budget, a 13000x13000
            // photo's 507 MB of pixels let the next photo's decode take the whole budget beside it (2 GB peaks).
            using var lease = new KeptLease(_budget.Acquire(EstimatedBytes(format, pixels, orientation), cancel), keep);
            watch?.Resume();
            timeout.CancelAfter(_options.DecodeTimeout);
            stream.Position = 0;
            var image = turbo is not null ? turbo.Decode(bytes, ScaledSize(turbo, width, height, orientation), _contiguous, path)
                : spng is not null ? spng.Decode(bytes, _contiguous, path, timeout.Token)
                : decoder.Decode<Rgb24>(_configuration, stream, timeout.Token);
            // ImageSharp's PNG, BMP and GIF decoders look at the token only between chunks or not at all, and
            // libjpeg-turbo never: a decode that ran past the deadline is a timeout whether or not it was stopped, so
            // that the same file times out on every run, not only when the deadline fell on a check.
            if (timeout.IsCancellationRequested && !cancel.IsCancellationRequested)
            {
                image.Dispose();
                throw new OperationCanceledException(timeout.Token);
            }
            try
            {
                ExifOrientation.Apply(image, orientation);
            }
            catch
            {
                image.Dispose();
                throw;
            }
            if (use is null)
            {
                lease.Keep();
                return image;
            }
            // The caller's errors are its own, not the decoder's: the handlers below must not rename them.
            inUse = true;
            using (image)
                use(image);
            return null;
        }
        catch (OperationCanceledException) when (!inUse && !cancel.IsCancellationRequested)
        {
            throw DecodeErrors.TimedOut(path, format.Name, _options.DecodeTimeout);
        }
        // Memory that ran out (OutOfMemoryException) is the machine's, not the file's: it ends the run (exit 18) rather
        // than being journaled as this image's final failure.
        catch (Exception e) when (!inUse && e is not (ClassifyException or OperationCanceledException or DecodeAbandonedException) && !ResourceLimits.IsOutOfMemory(e))
        {
            // Whatever a decoder throws on a crafted file is about that file: a message for the user, with the
            // decoder's own words after a colon (ImageSharp reports some corrupt streams with internal exceptions, an
            // index out of range in a Huffman table or a null reference, whose text means nothing to a user).
            throw DecodeErrors.DecoderFailure(e, format.Name, path);
        }
    }

    private (int Width, int Height) ScaledSize(TurboJpeg turbo, int width, int height, int orientation)
    {
        if (_options.DecodeAtLeast is not { } atLeast)
            return (width, height);
        // Orientations 5-8 turn the picture: the model sees the stored height as its width.
        var turned = orientation >= 5;
        var (needW, needH) = turned ? atLeast(height, width) : atLeast(width, height);
        if (turned)
            (needW, needH) = (needH, needW);
        // Twice what the resize needs: scaled just down to the model's size, 26 of 300 photo crops changed their top-1
        // against a full decode; with this margin the resize still filters the scaled image (and an ImageNet-sized
        // photo is not scaled at all). 3x and 4x were measured too (README, Benchmarks): on 240 large photo crops the
        // share of same top-1 among the scaled images stayed at 94-95% (every change a near-tie), so 2x, the fastest.
        return turbo.ScaledSize(width, height, 2 * needW, 2 * needH);
    }

    /// <summary>What decoding an image holds at its peak, measured (README: Memory): a JPEG decoder keeps every DCT
    /// coefficient of a progressive or 4:4:4 image (2 bytes a sample, 3 samples a pixel) beside the RGB pixels;
    /// other formats hold little more than the pixels. Turning an image (orientations 5-8) copies the pixels after
    /// the decoder's buffers are gone, so it adds to the peak only where the decoder's own need is smaller.</summary>
    private static long EstimatedBytes(IImageFormat format, long pixels, int orientation)
    {
        var decoding = format is JpegFormat ? 3 + 6 : 3 + 1;
        var turning = orientation >= 5 ? 6 : 3;
        return pixels * Math.Max(decoding, turning);
    }
}
