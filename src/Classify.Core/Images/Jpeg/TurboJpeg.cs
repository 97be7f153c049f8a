using System.Runtime.InteropServices;
using Classify.Gpu;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Images.Jpeg;

/// <summary>
/// libjpeg-turbo's TurboJPEG API (libturbojpeg.so.0, the system's: Debian/Ubuntu libturbojpeg0 or libturbojpeg,
/// RHEL turbojpeg), bound at run time through function pointers so that classify still runs where it is missing
/// (ImageSharp then decodes JPEG). classify uses it because it does what ImageSharp 2.1 cannot: arithmetic-coded
/// JPEG, and libjpeg's warnings for damaged entropy-coded data ("premature end of data segment"), where ImageSharp
/// fills the missing blocks with grey and says nothing. Its output matches python3-pil's (the same library).
/// CLASSIFY_TURBOJPEG=off turns it off.
/// </summary>
internal sealed unsafe class TurboJpeg
{
    public const string Soname = "libturbojpeg.so.0";

    private const int TJPF_RGB = 0, TJCS_CMYK = 3, TJCS_YCCK = 4, TJERR_WARNING = 0;
    // Refuses progressive files with more than 500 scans (libjpeg-turbo's guard against the scan-count CPU bomb).
    private const int TJFLAG_LIMITSCANS = 32768;

    private const string CorruptPrefix = "Corrupt JPEG data: ";

    private static readonly Lazy<(TurboJpeg? Api, string Status)> Loaded = new(() =>
        NativeDecoder.Load("CLASSIFY_TURBOJPEG", Soname, "libjpeg-turbo", "TurboJPEG 2", "install libturbojpeg0 for arithmetic-coded JPEG and damaged-data checks", lib => new TurboJpeg(lib)));

    private readonly delegate* unmanaged<nint> _init;
    private readonly delegate* unmanaged<nint, byte*, nuint, int*, int*, int*, int*, int> _header;
    private readonly delegate* unmanaged<nint, byte*, nuint, byte*, int, int, int, int, int, int> _decompress;
    private readonly delegate* unmanaged<nint, byte*> _errorString;
    private readonly delegate* unmanaged<nint, int> _errorCode;
    private readonly delegate* unmanaged<nint, int> _destroy;
    private readonly (int Num, int Denom)[] _downscales;

    private TurboJpeg(nint lib)
    {
        _init = (delegate* unmanaged<nint>)NativeLibrary.GetExport(lib, "tjInitDecompress");
        _header = (delegate* unmanaged<nint, byte*, nuint, int*, int*, int*, int*, int>)NativeLibrary.GetExport(lib, "tjDecompressHeader3");
        _decompress = (delegate* unmanaged<nint, byte*, nuint, byte*, int, int, int, int, int, int>)NativeLibrary.GetExport(lib, "tjDecompress2");
        _errorString = (delegate* unmanaged<nint, byte*>)NativeLibrary.GetExport(lib, "tjGetErrorStr2");
        _errorCode = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "tjGetErrorCode");
        _destroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "tjDestroy");
        var factors = (delegate* unmanaged<int*, int*>)NativeLibrary.GetExport(lib, "tjGetScalingFactors");
        int count;
        var list = factors(&count);
        var downscales = new List<(int, int)>();
        for (var i = 0; list is not null && i < count; i++)
        {
            var (num, denom) = (list[2 * i], list[2 * i + 1]);
            if (num > 0 && denom > 0 && num <= denom)
                downscales.Add((num, denom));
        }
        _downscales = [.. downscales];
    }

    /// <summary>
    /// The smallest size libjpeg-turbo can decode <paramref name="width"/>x<paramref name="height"/> to by scaling in the
    /// DCT domain (1/8, 2/8, ... 8/8 of each side) that is still at least <paramref name="atLeastWidth"/>x
    /// <paramref name="atLeastHeight"/>: the model's resize then still only shrinks, and the decoder skips most of its
    /// work (a 1/2-scale decode takes about 60% of the time of a full one). The full size when no scale is smaller.
    /// </summary>
    public (int Width, int Height) ScaledSize(int width, int height, int atLeastWidth, int atLeastHeight)
    {
        var best = (width, height);
        foreach (var (num, denom) in _downscales)
        {
            // TJSCALED: the decoder rounds each side up.
            var w = (int)(((long)width * num + denom - 1) / denom);
            var h = (int)(((long)height * num + denom - 1) / denom);
            if (w >= atLeastWidth && h >= atLeastHeight && (long)w * h < (long)best.width * best.height)
                best = (w, h);
        }
        return best;
    }

    /// <summary>The library, or null when it is not installed or turned off; <see cref="Status"/> says which.</summary>
    public static TurboJpeg? Instance => Loaded.Value.Api;

    /// <summary>One line for --verbose: the library's path, or why ImageSharp decodes instead.</summary>
    public static string Status => Loaded.Value.Status;

    /// <summary>Width, height and whether this decoder takes the file (not CMYK/YCCK, which ImageSharp converts
    /// as PIL does); null when the header cannot be read (the caller's ImageSharp path then reports why).</summary>
    public (int Width, int Height, bool Takes)? Header(ReadOnlySpan<byte> jpeg)
    {
        using var handle = new Handle(this);
        int width, height, subsampling, colorspace;
        fixed (byte* p = jpeg)
        {
            if (_header(handle.Value, p, (nuint)jpeg.Length, &width, &height, &subsampling, &colorspace) != 0)
                return null;
        }
        return (width, height, colorspace is not (TJCS_CMYK or TJCS_YCCK));
    }

    /// <summary>Decodes into a new RGB image of <paramref name="size"/> (the full size or one of <see cref="ScaledSize"/>);
    /// a warning libjpeg gives about the image data is an error here.</summary>
    public Image<Rgb24> Decode(ReadOnlySpan<byte> jpeg, (int Width, int Height) size, Configuration contiguous, string path)
    {
        var (width, height) = size;
        var image = new Image<Rgb24>(contiguous, width, height);
        try
        {
            if (!image.DangerousTryGetSinglePixelMemory(out var memory))
                throw new InvalidOperationException("the image buffer is not contiguous");
            using var handle = new Handle(this);
            int rc;
            using (var pin = memory.Pin())
            fixed (byte* src = jpeg)
            {
                rc = _decompress(handle.Value, src, (nuint)jpeg.Length, (byte*)pin.Pointer, width, width * 3, height, TJPF_RGB, TJFLAG_LIMITSCANS);
            }
            if (rc != 0)
            {
                var message = Marshal.PtrToStringUTF8((nint)_errorString(handle.Value))?.Trim() ?? "unknown error";
                var warning = _errorCode(handle.Value) == TJERR_WARNING;
                // Bytes between segments ("N extraneous bytes before marker") lie outside the image: its pixels are
                // whole. Every other warning means data the decoder had to invent.
                if (!(warning && message.Contains("extraneous bytes", StringComparison.Ordinal)))
                    throw new ClassifyException(ExitCode.ImageCorrupt, path, warning
                        ? $"corrupt JPEG data (libjpeg: {(message.StartsWith(CorruptPrefix, StringComparison.Ordinal) ? message[CorruptPrefix.Length..] : message)})"
                        : $"cannot decode JPEG: {message}");
            }
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <summary>A TurboJPEG decompressor, one per image: a handle must not be shared between threads.</summary>
    private readonly struct Handle : IDisposable
    {
        private readonly TurboJpeg _api;

        public Handle(TurboJpeg api)
        {
            _api = api;
            Value = api._init();
            if (Value == 0)
                throw new OutOfMemoryException("tjInitDecompress failed");
        }

        public nint Value { get; }

        public void Dispose() => _api._destroy(Value);
    }
}
