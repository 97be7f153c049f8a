using Classify.Images;

namespace Classify.Tests.Images;

/// <summary>TIFF-structured EXIF blocks written by hand, for the scanners' orientation tests.</summary>
internal static class ExifBlock
{
    /// <summary>A big-endian TIFF block whose IFD0 holds one entry: Orientation (0x0112, SHORT, count 1).</summary>
    public static byte[] Orientation(int value) =>
        [(byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (byte)value, 0, 0, 0, 0, 0, 0, 0, 0];

    public static readonly int Upright = ExifOrientation.Upright;
}
