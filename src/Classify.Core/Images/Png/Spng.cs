using System.Runtime.InteropServices;
using Classify.Gpu;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Images.Png;

/// <summary>
/// libspng (libspng.so.0: Debian/Ubuntu libspng0, RHEL/EPEL libspng), the PNG decoder classify prefers to
/// ImageSharp's, bound at run time through function pointers so that classify still runs where it is missing.
/// Why (issue 24): on PngSuite, ImageSharp 2.1 spins for ever on four valid interlaced 1-bit palette images
/// (s01i3p01 … s04i3p01) without looking at its cancellation token, and refuses two valid 16-bit images split into
/// one-byte IDAT chunks (oi9n0g16, oi9n2c16); libspng decodes all 162 valid files to the reference pixels and refuses
/// the 14 corrupt ones. It is fuzzed by OSS-Fuzz, needs no setjmp (libpng's error handling cannot cross into .NET),
/// and is decoded here row by row, so --decode_timeout is checked between rows: its work is bounded by the pixel
/// limit and stoppable. Samples are taken as stored: no gamma, no tRNS, alpha dropped, 16-bit rounded to 8 bits as
/// round(v/257), as PIL and ImageSharp do. CLASSIFY_LIBSPNG=off turns it off.
/// </summary>
internal sealed unsafe class Spng
{
    public const string Soname = "libspng.so.0";

    private const int SPNG_FMT_RGBA16 = 2, SPNG_FMT_RGB8 = 4;
    private const int SPNG_DECODE_PROGRESSIVE = 256;
    private const int SPNG_EMEM = 2, SPNG_EOVERFLOW = 3, SPNG_EIDAT_TOO_SHORT = 32, SPNG_EIDAT_STREAM = 33, SPNG_EZLIB = 34,
        SPNG_EOI = 75, SPNG_ECHUNK_LIMITS = 77;

    [StructLayout(LayoutKind.Sequential)]
    private struct Ihdr
    {
        public uint Width, Height;
        public byte BitDepth, ColorType, Compression, Filter, Interlace;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RowInfo
    {
        public uint ScanlineIndex, RowNumber;
        public int Pass;
        public byte Filter;
    }

    private static readonly Lazy<(Spng? Api, string Status)> Loaded = new(() =>
        NativeDecoder.Load("CLASSIFY_LIBSPNG", Soname, "libspng", "libspng 0.7", "install libspng0 for the conformant, stoppable decoder", lib => new Spng(lib)));

    private readonly delegate* unmanaged<int, nint> _new;
    private readonly delegate* unmanaged<nint, void> _free;
    private readonly delegate* unmanaged<nint, byte*, nuint, int> _setBuffer;
    private readonly delegate* unmanaged<nint, uint, uint, int> _setLimits;
    private readonly delegate* unmanaged<nint, Ihdr*, int> _getIhdr;
    private readonly delegate* unmanaged<nint, void*, nuint, int, int, int> _decodeImage;
    private readonly delegate* unmanaged<nint, RowInfo*, int> _rowInfo;
    private readonly delegate* unmanaged<nint, void*, nuint, int> _decodeRow;
    private readonly delegate* unmanaged<int, byte*> _strerror;
    private readonly delegate* unmanaged<nint, int> _decodeChunks;

    private Spng(nint lib)
    {
        _new = (delegate* unmanaged<int, nint>)NativeLibrary.GetExport(lib, "spng_ctx_new");
        _free = (delegate* unmanaged<nint, void>)NativeLibrary.GetExport(lib, "spng_ctx_free");
        _setBuffer = (delegate* unmanaged<nint, byte*, nuint, int>)NativeLibrary.GetExport(lib, "spng_set_png_buffer");
        _setLimits = (delegate* unmanaged<nint, uint, uint, int>)NativeLibrary.GetExport(lib, "spng_set_image_limits");
        _getIhdr = (delegate* unmanaged<nint, Ihdr*, int>)NativeLibrary.GetExport(lib, "spng_get_ihdr");
        _decodeImage = (delegate* unmanaged<nint, void*, nuint, int, int, int>)NativeLibrary.GetExport(lib, "spng_decode_image");
        _rowInfo = (delegate* unmanaged<nint, RowInfo*, int>)NativeLibrary.GetExport(lib, "spng_get_row_info");
        _decodeRow = (delegate* unmanaged<nint, void*, nuint, int>)NativeLibrary.GetExport(lib, "spng_decode_row");
        _strerror = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(lib, "spng_strerror");
        _decodeChunks = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(lib, "spng_decode_chunks");
    }

    /// <summary>The library, or null when it is not installed or turned off; <see cref="Status"/> says which.</summary>
    public static Spng? Instance => Loaded.Value.Api;

    /// <summary>One line for --verbose: the library's path, or why ImageSharp decodes instead.</summary>
    public static string Status => Loaded.Value.Status;

    /// <summary>Width and height from the IHDR chunk, which libspng checks (sizes, depth and colour type, CRC); a
    /// header it refuses is a corrupt file.</summary>
    public (int Width, int Height) Header(byte[] png, string path)
    {
        using var ctx = new Context(this);
        fixed (byte* p = png)
        {
            Check(_setBuffer(ctx.Value, p, (nuint)png.Length), path);
            Ihdr ihdr;
            Check(_getIhdr(ctx.Value, &ihdr), path);
            return ((int)Math.Min(ihdr.Width, int.MaxValue), (int)Math.Min(ihdr.Height, int.MaxValue));
        }
    }

    /// <summary>Decodes into a new RGB image, row by row, stopping with <paramref name="cancel"/> between rows.</summary>
    public Image<Rgb24> Decode(byte[] png, Configuration contiguous, string path, CancellationToken cancel)
    {
        using var ctx = new Context(this);
        fixed (byte* p = png)
        {
            Check(_setBuffer(ctx.Value, p, (nuint)png.Length), path);
            Check(_setLimits(ctx.Value, int.MaxValue, int.MaxValue), path);
            Ihdr ihdr;
            Check(_getIhdr(ctx.Value, &ihdr), path);
            int width = (int)ihdr.Width, height = (int)ihdr.Height;
            var wide = ihdr.BitDepth == 16;
            var format = wide ? SPNG_FMT_RGBA16 : SPNG_FMT_RGB8;
            Check(_decodeImage(ctx.Value, null, 0, format, SPNG_DECODE_PROGRESSIVE), path);
            var image = new Image<Rgb24>(contiguous, width, height);
            System.Buffers.IMemoryOwner<ushort>? wideRow = null;
            try
            {
                if (!image.DangerousTryGetSinglePixelMemory(out var memory))
                    throw new InvalidOperationException("the image buffer is not contiguous");
                // 8-bit and less: each row straight into the image. 16-bit: each row into one RGBA16 row, whose pixels of
                // this pass (all of them unless interlaced) are then rounded into the image.
                var rowBytes = (long)width * 3;
                if (wide)
                    wideRow = contiguous.MemoryAllocator.Allocate<ushort>(checked(width * 4));
                using var pin = memory.Pin();
                using var widePin = wideRow is null ? default : wideRow.Memory.Pin();
                var pixels = (byte*)pin.Pointer;
                var row16 = (ushort*)widePin.Pointer;
                int rc;
                RowInfo row;
                do
                {
                    cancel.ThrowIfCancellationRequested();
                    rc = _rowInfo(ctx.Value, &row);
                    if (rc != 0) break;
                    if (row.RowNumber >= (uint)height || (uint)row.Pass > 6)
                        throw new ClassifyException(ExitCode.ImageCorrupt, path, "corrupt PNG data (libspng: row out of range)");
                    var target = pixels + row.RowNumber * rowBytes;
                    if (!wide)
                        rc = _decodeRow(ctx.Value, target, (nuint)rowBytes);
                    else
                    {
                        rc = _decodeRow(ctx.Value, row16, (nuint)width * 8);
                        if (rc is 0 or SPNG_EOI)
                        {
                            var (x0, dx) = ihdr.Interlace == 0 ? (0, 1) : Adam7Columns[row.Pass];
                            for (var x = x0; x < width; x += dx)
                            {
                                var s16 = row16 + 4 * x;
                                var d8 = target + 3 * x;
                                d8[0] = To8(s16[0]);
                                d8[1] = To8(s16[1]);
                                d8[2] = To8(s16[2]);
                            }
                        }
                    }
                }
                while (rc == 0);
                if (rc != SPNG_EOI)
                    Check(rc, path);
                // The last row can come before the end of the IDAT data: reading on to IEND checks what is left,
                // the CRC of the last IDAT chunk included.
                Check(_decodeChunks(ctx.Value), path);
                return image;
            }
            catch
            {
                image.Dispose();
                throw;
            }
            finally
            {
                wideRow?.Dispose();
            }
        }
    }

    /// <summary>The first column and the column step of each Adam7 pass.</summary>
    private static readonly (int X0, int Dx)[] Adam7Columns = [(0, 8), (4, 8), (0, 4), (2, 4), (0, 2), (1, 2), (0, 1)];

    /// <summary>A 16-bit sample as 8 bits, round(v/257): the rounding of ImageSharp and of PngSuite's references.</summary>
    private static byte To8(ushort v) => (byte)((v * 255 + 32895) >> 16);

    private void Check(int rc, string path)
    {
        if (rc == 0) return;
        var words = Marshal.PtrToStringUTF8((nint)_strerror(rc)) ?? $"error {rc}";
        // Within the limits set on the context, a failed malloc is the machine's memory, not the file's (exit 18).
        if (rc == SPNG_EMEM)
            throw new OutOfMemoryException($"libspng: {words}");
        throw rc switch
        {
            SPNG_EOVERFLOW or SPNG_ECHUNK_LIMITS =>
                new ClassifyException(ExitCode.ImageTooLarge, path, $"cannot decode PNG: it needs more memory than one image may have (libspng: {words})"),
            SPNG_EIDAT_TOO_SHORT => new ClassifyException(ExitCode.ImageCorrupt, path, "corrupt PNG: its image data ends before the image does"),
            SPNG_EIDAT_STREAM or SPNG_EZLIB => new ClassifyException(ExitCode.ImageCorrupt, path, "corrupt PNG image data (the zlib stream is damaged)"),
            _ => new ClassifyException(ExitCode.ImageCorrupt, path, $"corrupt PNG data (libspng: {words})"),
        };
    }

    /// <summary>A decoder context, one per image: a context must not be shared between threads.</summary>
    private readonly struct Context : IDisposable
    {
        private readonly Spng _api;

        public Context(Spng api)
        {
            _api = api;
            Value = api._new(0);
            if (Value == 0)
                throw new OutOfMemoryException("spng_ctx_new failed");
        }

        public nint Value { get; }

        public void Dispose() => _api._free(Value);
    }
}
