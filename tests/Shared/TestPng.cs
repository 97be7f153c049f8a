using System.IO.Compression;

namespace Classify.Tests;

/// <summary>PNGs written by hand, for sizes no photo has: zero rows, deflated, so a few hundred KB hold any size (as
/// decompression bombs do).</summary>
internal static class TestPng
{
    /// <param name="depth">Bits per sample (8 or 16).</param>
    /// <param name="color">PNG colour type: 2 RGB, 6 RGBA.</param>
    public static byte[] ZeroRows(int width, int height, byte depth = 8, byte color = 2)
    {
        var bytesPerPixel = (color == 6 ? 4 : 3) * depth / 8;
        using var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[1 + (long)width * bytesPerPixel];
            for (var y = 0; y < height; y++) z.Write(row);
        }
        byte[] ihdr = [.. BigEndian((uint)width), .. BigEndian((uint)height), depth, color, 0, 0, 0];
        return [0x89, (byte)'P', (byte)'N', (byte)'G', 13, 10, 26, 10, .. Chunk("IHDR", ihdr), .. Chunk("IDAT", idat.ToArray()), .. Chunk("IEND", [])];
    }

    private static byte[] Chunk(string type, byte[] data)
    {
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        return [.. BigEndian((uint)data.Length), .. typed, .. BigEndian(Crc32(typed))];
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    private static byte[] BigEndian(uint v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];
}
