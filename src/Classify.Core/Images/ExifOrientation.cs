using System.Buffers.Binary;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace Classify.Images;

/// <summary>
/// The EXIF Orientation tag (1-8), read from the bytes by hand: each format's scanner finds the EXIF block (a JPEG's
/// APP1 "Exif", a PNG's eXIf chunk, a WebP's EXIF chunk) and reads it here. ImageSharp's metadata readers are off
/// (IgnoreMetadata): they cost time and memory on hostile files, and under Native AOT its EXIF reader fails on every
/// photo ("ExifDataType[] is missing native code"). Classification needs one tag of all that metadata. Anything malformed reads as 1 (upright), as PIL does.
/// </summary>
public static class ExifOrientation
{
    public const int Upright = 1;

    /// <summary>The Orientation entry (0x0112, SHORT) of IFD0 of a TIFF-structured EXIF block.</summary>
    public static int FromTiff(ReadOnlySpan<byte> tiff)
    {
        if (tiff.Length < 8)
            return Upright;
        bool little;
        if (tiff.StartsWith("II*\0"u8)) little = true;
        else if (tiff.StartsWith("MM\0*"u8)) little = false;
        else return Upright;
        ushort U16(ReadOnlySpan<byte> s) => little ? BinaryPrimitives.ReadUInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16BigEndian(s);
        uint U32(ReadOnlySpan<byte> s) => little ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s);

        var ifd = U32(tiff[4..]);
        if (ifd > tiff.Length - 2)
            return Upright;
        var count = U16(tiff[(int)ifd..]);
        for (var i = 0; i < count; i++)
        {
            var entry = (long)ifd + 2 + 12L * i;
            if (entry + 12 > tiff.Length)
                break;
            var e = tiff.Slice((int)entry, 12);
            if (U16(e) != 0x0112)
                continue;
            // type SHORT (3), count 1: the value sits in the first two bytes of the value field
            if (U16(e[2..]) != 3 || U32(e[4..]) < 1)
                return Upright;
            var value = U16(e[8..]);
            return value is >= 1 and <= 8 ? value : Upright;
        }
        return Upright;
    }

    /// <summary>EXIF orientation 2-8 to upright, as PIL's ImageOps.exif_transpose does.</summary>
    public static void Apply(Image<Rgb24> image, int orientation)
    {
        if (orientation <= 1) return;
        image.Mutate(x => _ = orientation switch
        {
            2 => x.Flip(FlipMode.Horizontal),
            3 => x.Rotate(RotateMode.Rotate180),
            4 => x.Flip(FlipMode.Vertical),
            5 => x.Rotate(RotateMode.Rotate90).Flip(FlipMode.Horizontal), // transpose
            6 => x.Rotate(RotateMode.Rotate90),
            7 => x.Rotate(RotateMode.Rotate90).Flip(FlipMode.Vertical), // transverse
            _ => x.Rotate(RotateMode.Rotate270),
        });
    }
}
