using System.Buffers.Binary;

namespace Classify.Images.Png;

/// <summary>What classify reads of a PNG before decoding it, from one walk of its chunks.</summary>
/// <param name="ReachedEnd">Whether the chunks reach IEND, every chunk before it whole: a PNG that does not is
/// truncated.</param>
/// <param name="Orientation">The EXIF orientation (1-8) of an eXIf chunk before the first IDAT, as PIL reads it.</param>
/// <param name="PixelChunks">The chunks that make the pixels (IHDR, PLTE, tRNS, IDAT, IEND), in file order.</param>
/// <param name="Dropped">Whether any other chunk was found: the decoder then gets a copy without them.</param>
internal sealed record PngScan(bool ReachedEnd, int Orientation, List<PngChunk> PixelChunks, bool Dropped)
{
    /// <summary>
    /// The bytes the decoder gets: the PNG with only its <see cref="PixelChunks"/>. Text, ICC, EXIF and unknown chunks
    /// are dropped before the decoder sees them, so a 1 GiB zTXt or a thousand iTXt chunks cost a copy at most, never
    /// an inflate; APNG's frame chunks go too, which leaves the default image (its first frame, or the still image
    /// shown by viewers without APNG). The input itself when there is nothing to drop.
    /// </summary>
    public byte[] DecoderBytes(byte[] png)
    {
        if (!Dropped) return png;
        long total = 8;
        foreach (var chunk in PixelChunks)
            total += chunk.End - chunk.Start;
        var result = new byte[total];
        png.AsSpan(0, 8).CopyTo(result);
        var at = 8;
        foreach (var chunk in PixelChunks)
        {
            png.AsSpan(chunk.Start, chunk.End - chunk.Start).CopyTo(result.AsSpan(at));
            at += chunk.End - chunk.Start;
        }
        return result;
    }
}

/// <summary>One pass over a PNG's chunks (<see cref="PngChunks"/>) that gathers what the checks before decoding and the
/// decoder need: whether it reaches IEND, its EXIF orientation, and the chunks that make its pixels.</summary>
internal static class PngScanner
{
    private const uint Ihdr = 0x49484452, Plte = 0x504C5445, Trns = 0x74524E53, Idat = 0x49444154, Iend = 0x49454E44,
        Exif = 0x65584966;

    public static PngScan Scan(ReadOnlySpan<byte> png)
    {
        var pixelChunks = new List<PngChunk>();
        var dropped = false;
        var orientation = ExifOrientation.Upright;
        var metadataDone = false;
        var chunks = new PngChunks(png);
        while (chunks.MoveNext())
        {
            var chunk = chunks.Current;
            var type = BinaryPrimitives.ReadUInt32BigEndian(chunk.Type(png));
            if (!metadataDone && type is Exif or Idat)
            {
                // eXIf must come before IDAT; PIL looks no further either.
                if (type == Exif)
                    orientation = ExifOrientation.FromTiff(chunk.Data(png));
                metadataDone = true;
            }
            if (type is Ihdr or Plte or Trns or Idat or Iend)
                pixelChunks.Add(chunk);
            else
                dropped = true;
        }
        return new PngScan(chunks.ReachedEnd, orientation, pixelChunks, dropped);
    }

    /// <summary>Whether a chunk of <see cref="PngScan.PixelChunks"/> is image data.</summary>
    public static bool IsIdat(ReadOnlySpan<byte> png, PngChunk chunk) => BinaryPrimitives.ReadUInt32BigEndian(chunk.Type(png)) == Idat;
}
