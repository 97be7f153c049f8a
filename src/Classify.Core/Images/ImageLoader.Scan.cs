using Classify.Images.Bmp;
using Classify.Images.Gif;
using Classify.Images.Jpeg;
using Classify.Images.Png;
using Classify.Images.WebP;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;

namespace Classify.Images;

/// <summary>
/// What the loader checks before decoding, from one scan of the file per format (Jpeg/, Png/, Bmp/, Gif/, WebP/): the
/// file's structure followed to the end of the image, its data checked against the size its header declares, its EXIF
/// orientation, and the bytes the decoder gets.
/// </summary>
public sealed partial class ImageLoader
{
    /// <summary>What a file's scan hands to its decode.</summary>
    /// <param name="Bytes">What the decoder gets: the file itself, a PNG without the chunks that make no pixels, or an
    /// animated WebP's first frame.</param>
    /// <param name="Turbo">libjpeg-turbo, where it takes the JPEG.</param>
    /// <param name="Spng">libspng, for a PNG where it is installed.</param>
    /// <param name="JpegScans">A JPEG's number of scans (at least 1), for the work libjpeg-turbo is given.</param>
    /// <param name="Png">A PNG's scan, for the data check where ImageSharp decodes it.</param>
    private readonly record struct Scanned(byte[] Bytes, int Orientation, TurboJpeg? Turbo, Spng? Spng, int JpegScans, PngScan? Png);

    /// <summary>
    /// Scans <paramref name="bytes"/> as <paramref name="format"/>, and refuses a file that is cut off or whose data
    /// cannot be what its header says. ImageSharp, like most decoders, fills the missing rows of a cut-off image with
    /// zeros and reports nothing (PNG, JPEG, BMP, GIF and WebP alike). A half-downloaded photo would then be classified
    /// as something else without a word, so the file's structure is followed to the end of the image: PNG chunk by
    /// chunk to IEND, JPEG segment by segment to EOI, GIF block by block to the end of the first frame (the one
    /// classified), BMP to the end of its pixel rows, WebP to the end of its RIFF container. Only the structure is
    /// followed, so data after the end (the video of a motion photo, padding) and an EXIF thumbnail's own EOI inside
    /// APP1 do not fool it, as a search of the file's last bytes would be.
    /// </summary>
    private static Scanned Scan(IImageFormat format, byte[] bytes, string path)
    {
        switch (format)
        {
            case JpegFormat:
                var jpeg = JpegScanner.Scan(bytes);
                if (!jpeg.ReachedEnd)
                    throw Truncated(format, path);
                if (jpeg.Problem is { } jpegProblem)
                    throw new ClassifyException(ExitCode.ImageCorrupt, path, jpegProblem);
                // libjpeg-turbo cannot be stopped mid-decode: a file with an unusual number of progressive scans
                // (a CPU bomb; photos have about 10) goes to ImageSharp, which honours --decode_timeout.
                var turbo = jpeg.Scans <= MaxTurboJpegScans ? TurboJpeg.Instance : null;
                if (turbo is null && jpeg.Arithmetic)
                    throw new ClassifyException(ExitCode.ImageUnsupported, path, TurboJpeg.Instance is null
                        ? $"arithmetic-coded JPEG, which ImageSharp cannot decode (install {TurboJpeg.Soname}: libturbojpeg0 on Debian/Ubuntu, turbojpeg on RHEL)"
                        : $"arithmetic-coded JPEG with {jpeg.Scans} scans, over the {MaxTurboJpegScans} that are decoded");
                return new Scanned(bytes, jpeg.Orientation, turbo, null, Math.Max(1, jpeg.Scans), null);
            case PngFormat:
                var png = PngScanner.Scan(bytes);
                if (!png.ReachedEnd)
                    throw Truncated(format, path);
                return new Scanned(png.DecoderBytes(bytes), png.Orientation, null, Spng.Instance, 1, png);
            case BmpFormat:
                var bmp = BmpScanner.Scan(bytes);
                if (bmp.Truncated)
                    throw Truncated(format, path);
                // ImageSharp refuses a BMP over 65535 pixels a side (an InvalidOperationException from its header check).
                if (bmp.Width > 65535 || bmp.Height > 65535)
                    throw new ClassifyException(ExitCode.ImageTooLarge, path,
                        $"{bmp.Width}x{bmp.Height} pixels: the BMP decoder takes at most 65535 pixels a side");
                break;
            case GifFormat:
                var gif = GifScanner.Scan(bytes);
                if (gif.Truncated)
                    throw Truncated(format, path);
                if (gif.Problem is { } gifProblem)
                    throw new ClassifyException(ExitCode.ImageCorrupt, path, gifProblem);
                break;
            case WebpFormat:
                var webp = WebpScanner.Scan(bytes);
                if (webp.Truncated)
                    throw Truncated(format, path);
                return new Scanned(webp.DecoderBytes(bytes)
                    ?? throw new ClassifyException(ExitCode.ImageCorrupt, path, "animated WebP without a readable first frame"),
                    webp.Orientation, null, null, 1, null);
        }
        return new Scanned(bytes, ExifOrientation.Upright, null, null, 1, null);
    }

    private static ClassifyException Truncated(IImageFormat format, string path) =>
        new(ExitCode.ImageCorrupt, path, $"truncated {format.Name} file (it ends before the image data does)");
}
