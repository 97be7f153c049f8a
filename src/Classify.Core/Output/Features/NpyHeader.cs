using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Classify.Output.Features;

/// <summary>The element type of an embeddings file: numpy's little-endian float16 ('&lt;f2', the default) or float32 ('&lt;f4').</summary>
public enum FeaturesDtype { Float16, Float32 }

/// <summary>
/// The header of a 2-D .npy file (numpy's format 1.0: magic, version, a little-endian uint16 length, then a Python dict
/// literal padded with spaces to a multiple of 64 bytes and ended by a newline). classify always writes it
/// <see cref="Length"/> bytes long, so that the row count, known only at the end, is written over the placeholder in place.
/// </summary>
public sealed partial record NpyHeader(FeaturesDtype Dtype, long Rows, int Width)
{
    /// <summary>128 bytes: room for any row count (20 digits) and width; a multiple of 64 as numpy writes them.</summary>
    public const int Length = 128;

    public int ElementSize => Dtype == FeaturesDtype.Float16 ? 2 : 4;
    public string Descr => Dtype == FeaturesDtype.Float16 ? "<f2" : "<f4";
    public long RowBytes => (long)Width * ElementSize;

    public byte[] ToBytes()
    {
        var dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '{Descr}', 'fortran_order': False, 'shape': ({Rows}, {Width}), }}");
        var bytes = new byte[Length];
        bytes[0] = 0x93;
        "NUMPY"u8.CopyTo(bytes.AsSpan(1));
        bytes[6] = 1;
        bytes[7] = 0;
        var headerLength = Length - 10;
        bytes[8] = (byte)(headerLength & 0xFF);
        bytes[9] = (byte)(headerLength >> 8);
        var text = Encoding.ASCII.GetBytes(dict.PadRight(headerLength - 1) + "\n");
        text.CopyTo(bytes, 10);
        return bytes;
    }

    [GeneratedRegex(@"^\{'descr': '(<f2|<f4)', 'fortran_order': False, 'shape': \((\d+), (\d+)\), \} *\n$", RegexOptions.CultureInvariant)]
    private static partial Regex Dict();

    /// <summary>Reads the header of <paramref name="path"/> and checks that the file holds exactly its rows.</summary>
    /// <exception cref="InvalidDataException">Not an embeddings file classify wrote, or cut short or lengthened.</exception>
    public static NpyHeader Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var bytes = new byte[Length];
        var read = file.ReadAtLeast(bytes, Length, throwOnEndOfStream: false);
        if (read < 10 || bytes[0] != 0x93 || !bytes.AsSpan(1, 5).SequenceEqual("NUMPY"u8) || bytes[6] != 1 || bytes[7] != 0)
            throw new InvalidDataException("is not a .npy file of format 1.0");
        var headerLength = bytes[8] | bytes[9] << 8;
        if (10 + headerLength != Length || read < Length)
            throw new InvalidDataException("is a .npy file, but not one classify wrote (its header is not 128 bytes)");
        var m = Dict().Match(Encoding.ASCII.GetString(bytes, 10, headerLength));
        if (!m.Success)
            throw new InvalidDataException("is a .npy file, but not a 2-D float16 or float32 C-order array as classify writes");
        var header = new NpyHeader(m.Groups[1].Value == "<f2" ? FeaturesDtype.Float16 : FeaturesDtype.Float32,
            long.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture), int.Parse(m.Groups[3].ValueSpan, CultureInfo.InvariantCulture));
        if (file.Length != Length + header.Rows * header.RowBytes)
            throw new InvalidDataException($"is {file.Length} bytes, but its header says {header.Rows} rows of {header.Width} ({Length + header.Rows * header.RowBytes} bytes): cut short or changed");
        return header;
    }
}
