using System.Buffers.Binary;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Classify.Images;

public sealed record ImageLoaderOptions
{
    public static readonly ImageLoaderOptions Default = new();

    /// <summary>PIL's decompression-bomb limit: larger images are refused before decoding.</summary>
    public long MaxPixels { get; init; } = 178_956_970;

    /// <summary>Upper bound of one ImageSharp allocation, so a hostile header cannot exhaust memory.</summary>
    public int AllocationLimitMegabytes { get; init; } = 1024;
}

/// <summary>
/// Decodes a photo to upright RGB: only JPEG, PNG, BMP, GIF and WebP (ImageSharp 2.1's TIFF decoder has
/// unfixed advisories), dimensions checked with Identify before any pixel is decoded, EXIF orientation
/// applied, grayscale/CMYK/palette/alpha converted to RGB (alpha dropped, as PIL's convert("RGB") does).
/// </summary>
public sealed class ImageLoader
{
    private readonly Configuration _configuration;
    private readonly ImageLoaderOptions _options;

    public ImageLoader(ImageLoaderOptions? options = null)
    {
        _options = options ?? ImageLoaderOptions.Default;
        _configuration = new Configuration(
            new JpegConfigurationModule(), new PngConfigurationModule(), new BmpConfigurationModule(),
            new GifConfigurationModule(), new WebpConfigurationModule())
        {
            MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions { AllocationLimitMegabytes = _options.AllocationLimitMegabytes }),
            // Images are decoded on several threads at once already; one core per image keeps them from fighting.
            MaxDegreeOfParallelism = 1,
        };
    }

    public const string SupportedFormats = "JPEG, PNG, BMP, GIF, WebP";

    private readonly Lock _prefetchGate = new();
    private (string Path, Task<Image<Rgb24>> Image)? _prefetched;

    /// <summary>
    /// Starts decoding <paramref name="path"/> on the thread pool; the next <see cref="Load"/> of that path takes
    /// the result. A short run uses this to decode its first image (and compile the decoder's code) while the
    /// model loads, the two largest costs of a cold start, on different cores.
    /// </summary>
    public void Prefetch(string path)
    {
        lock (_prefetchGate) _prefetched = (path, Task.Run(() => LoadNow(path)));
    }

    public Image<Rgb24> Load(string path)
    {
        Task<Image<Rgb24>>? prefetched = null;
        lock (_prefetchGate)
        {
            if (_prefetched is { } p && p.Path == path)
            {
                prefetched = p.Image;
                _prefetched = null;
            }
        }
        return prefetched is null ? LoadNow(path) : prefetched.GetAwaiter().GetResult();
    }

    private Image<Rgb24> LoadNow(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ClassifyException(ExitCode.ImageNotFound, path, "no such file");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Asked only when the read failed: a stat per image is a metadata-server round trip on Lustre/NFS.
            if (Directory.Exists(path))
                throw new ClassifyException(ExitCode.ImageNotFound, path, "is a directory, not an image file (use --image_dir for folders)");
            throw new ClassifyException(ExitCode.ImageNotFound, path, $"cannot read: {e.Message}");
        }
        return Decode(bytes, path);
    }

    public Image<Rgb24> Decode(byte[] bytes, string path)
    {
        if (bytes.Length == 0)
            throw new ClassifyException(ExitCode.ImageUnsupported, path, "is empty (0 bytes), not an image");
        IImageFormat? format;
        IImageInfo? info;
        try
        {
            info = Image.Identify(_configuration, bytes, out format);
        }
        catch (Exception e) when (e is ImageFormatException or NotSupportedException)
        {
            throw new ClassifyException(ExitCode.ImageCorrupt, path, $"corrupt or truncated image: {e.Message}");
        }
        if (info is null || format is null)
            throw new ClassifyException(ExitCode.ImageUnsupported, path, $"not an image in a supported format ({SupportedFormats})");
        if (info.Width <= 0 || info.Height <= 0)
            throw new ClassifyException(ExitCode.ImageCorrupt, path, $"{format.Name} header gives an empty size {info.Width}x{info.Height}");
        if ((long)info.Width * info.Height > _options.MaxPixels)
            throw new ClassifyException(ExitCode.ImageTooLarge, path,
                $"{info.Width}x{info.Height} pixels is over the limit of {_options.MaxPixels:N0} pixels");
        if (IsTruncated(format, bytes))
            throw new ClassifyException(ExitCode.ImageCorrupt, path, $"truncated {format.Name} file (it ends before the image data does)");
        try
        {
            var image = Image.Load<Rgb24>(_configuration, bytes);
            image.Mutate(x => x.AutoOrient());
            return image;
        }
        catch (Exception e) when (e is ImageFormatException or InvalidMemoryOperationException or NotSupportedException)
        {
            throw new ClassifyException(e is InvalidMemoryOperationException ? ExitCode.ImageTooLarge : ExitCode.ImageCorrupt,
                path, $"cannot decode {format.Name}: {e.Message}");
        }
    }

    // ImageSharp, like most decoders, fills the missing rows of a cut-off image with zeros and reports nothing
    // (PNG, JPEG, BMP, GIF and WebP alike). A half-downloaded photo would then be classified as something else
    // without a word, so the file's structure is followed to the end of the image: PNG chunk by chunk to IEND,
    // JPEG segment by segment to EOI, GIF block by block to the end of the first frame (the one classified), BMP
    // to the end of its pixel rows, WebP to the end of its RIFF container. Only the structure is followed, so data
    // after the end (the video of a motion photo, padding) and an EXIF thumbnail's own EOI inside APP1 do not fool
    // it, as a search of the file's last bytes would be.
    private static bool IsTruncated(IImageFormat format, byte[] bytes) => format switch
    {
        PngFormat => !PngReachesEnd(bytes),
        JpegFormat => !JpegReachesEnd(bytes),
        GifFormat => !GifFirstFrameComplete(bytes),
        BmpFormat => !BmpPixelsComplete(bytes),
        WebpFormat => !WebpRiffComplete(bytes),
        _ => false,
    };

    private static bool WebpRiffComplete(ReadOnlySpan<byte> webp) =>
        webp.Length >= 12 && webp.Length >= 8L + BinaryPrimitives.ReadUInt32LittleEndian(webp[4..]);

    private static bool BmpPixelsComplete(ReadOnlySpan<byte> bmp)
    {
        if (bmp.Length < 26)
            return false;
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(bmp[10..]);
        var headerSize = BinaryPrimitives.ReadUInt32LittleEndian(bmp[14..]);
        long width, height;
        int bits, compression = 0;
        long compressedSize = 0;
        if (headerSize == 12)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(bmp[18..]);
            height = BinaryPrimitives.ReadUInt16LittleEndian(bmp[20..]);
            bits = BinaryPrimitives.ReadUInt16LittleEndian(bmp[24..]);
        }
        else
        {
            if (bmp.Length < 38)
                return false;
            width = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bmp[18..]));
            height = Math.Abs((long)BinaryPrimitives.ReadInt32LittleEndian(bmp[22..]));
            bits = BinaryPrimitives.ReadUInt16LittleEndian(bmp[28..]);
            compression = (int)BinaryPrimitives.ReadUInt32LittleEndian(bmp[30..]);
            compressedSize = BinaryPrimitives.ReadUInt32LittleEndian(bmp[34..]);
        }
        long needed;
        if (compression is 0 or 3 or 6) // BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS: rows padded to 4 bytes
            // The last row's padding is not required: some writers leave it out.
            needed = height == 0 ? 0 : (width * bits + 31) / 32 * 4 * (height - 1) + (width * bits + 7) / 8;
        else
            needed = compressedSize; // RLE and embedded JPEG/PNG give their size; 0 when unknown
        return bmp.Length >= offset + needed;
    }

    private static bool GifFirstFrameComplete(ReadOnlySpan<byte> gif)
    {
        static int ColorTableSize(byte packed) => (packed & 0x80) != 0 ? 3 << ((packed & 7) + 1) : 0;

        static bool SkipSubBlocks(ReadOnlySpan<byte> gif, ref long pos)
        {
            while (pos < gif.Length)
            {
                var size = gif[(int)pos];
                pos += 1 + size;
                if (size == 0)
                    return pos <= gif.Length;
            }
            return false;
        }

        if (gif.Length < 13)
            return false;
        long pos = 13 + ColorTableSize(gif[10]);
        while (pos < gif.Length)
        {
            switch (gif[(int)pos])
            {
                case 0x21: // extension: label, then sub-blocks
                    pos += 2;
                    if (!SkipSubBlocks(gif, ref pos))
                        return false;
                    break;
                case 0x2C: // image descriptor, local colour table, LZW code size, then the pixel sub-blocks
                    if (pos + 10 > gif.Length)
                        return false;
                    pos += 10 + ColorTableSize(gif[(int)pos + 9]) + 1;
                    return SkipSubBlocks(gif, ref pos);
                default: // the trailer, or a block the decoder will judge: no frame data is cut off here
                    return true;
            }
        }
        return false;
    }

    private static bool PngReachesEnd(ReadOnlySpan<byte> png)
    {
        long pos = 8; // the signature
        while (pos + 8 <= png.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(png[(int)pos..]);
            var next = pos + 12 + length; // length, type, data, CRC
            if (next > png.Length)
                return false;
            if (png.Slice((int)pos + 4, 4).SequenceEqual("IEND"u8))
                return true;
            pos = next;
        }
        return false;
    }

    private static bool JpegReachesEnd(ReadOnlySpan<byte> jpeg)
    {
        var pos = 2; // SOI
        while (pos + 1 < jpeg.Length)
        {
            if (jpeg[pos] != 0xFF)
            {
                // Stray bytes between segments, which decoders skip too.
                pos++;
                continue;
            }
            var marker = jpeg[pos + 1];
            if (marker == 0xD9)
                return true; // EOI
            if (marker is 0xFF)
            {
                pos++; // fill byte
                continue;
            }
            if (marker is 0x00 or 0x01 or >= 0xD0 and <= 0xD7)
            {
                pos += 2; // no length: stuffed zero, TEM, RSTn
                continue;
            }
            if (pos + 3 >= jpeg.Length)
                return false;
            pos += 2 + ((jpeg[pos + 2] << 8) | jpeg[pos + 3]);
            if (marker == 0xDA)
            {
                // SOS: entropy-coded data runs to the next marker; 0xFF is escaped as FF00 there and RSTn interleave.
                while (pos + 1 < jpeg.Length)
                {
                    var ff = jpeg[pos..].IndexOf((byte)0xFF);
                    if (ff < 0)
                        return false;
                    pos += ff;
                    if (pos + 1 >= jpeg.Length)
                        return false;
                    var m = jpeg[pos + 1];
                    if (m is not (0x00 or >= 0xD0 and <= 0xD7))
                        break;
                    pos += 2;
                }
            }
        }
        return false;
    }
}
