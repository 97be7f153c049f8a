namespace Classify.Images.Jpeg;

/// <summary>What classify reads of a JPEG before decoding it, from one walk of its segments.</summary>
/// <param name="ReachedEnd">Whether the segments reach EOI, every segment and scan before it whole: a JPEG that does
/// not is truncated.</param>
/// <param name="Orientation">The EXIF orientation (1-8) of the first APP1 "Exif" segment before the frame header.</param>
/// <param name="Scans">The number of scans (SOS): a progressive file with very many is a CPU bomb.</param>
/// <param name="Arithmetic">Whether a frame header declares arithmetic coding, which ImageSharp cannot decode.</param>
/// <param name="Problem">Why the file is corrupt, or null when its data length is plausible.</param>
internal readonly record struct JpegScan(bool ReachedEnd, int Orientation, int Scans, bool Arithmetic, string? Problem);

/// <summary>
/// One pass over a JPEG's segments (<see cref="JpegSegments"/>) that gathers what the checks before decoding need:
/// whether it reaches EOI, its EXIF orientation, its scan count and coding, and whether its entropy-coded data is
/// long enough for the number of 8x8 blocks its frame header declares. ImageSharp fills blocks it finds no data for
/// with grey and reports nothing, so a header whose width was damaged (1200 read as 65535) decoded to a mostly grey
/// picture that was classified with exit 0. Every block costs at least one bit of Huffman code per scan that carries
/// its DC coefficient, and a sequential scan adds at least one more for its end-of-block: a lower bound no valid file
/// is under.
/// </summary>
internal static class JpegScanner
{
    public static JpegScan Scan(ReadOnlySpan<byte> jpeg)
    {
        long blocks = 0, scanBytes = 0;
        int scans = 0, orientation = ExifOrientation.Upright;
        bool progressive = false, arithmetic = false, metadataDone = false;
        var segments = new JpegSegments(jpeg);
        while (segments.MoveNext())
        {
            var segment = segments.Current;
            if (!metadataDone)
                metadataDone = Orientation(jpeg, segment, ref orientation);
            scanBytes += segment.ScanBytes;
            if (segment.Marker == 0xDA) scans++;
            // SOF9-SOF15 but DHT's neighbours: arithmetic coding (SOF9, 10, 11, 13, 14, 15).
            if (segment.Marker is 0xC9 or 0xCA or 0xCB or 0xCD or 0xCE or 0xCF) arithmetic = true;
            if (segment.Marker is not (0xC0 or 0xC1 or 0xC2) || segment.PayloadLength < 6)
                continue;
            progressive = segment.Marker == 0xC2;
            blocks += Blocks(segment.Payload(jpeg));
        }
        var minimumBits = blocks * (progressive ? 1 : 2);
        var problem = blocks > 0 && scanBytes * 8 < minimumBits
            ? $"corrupt JPEG: {scanBytes:N0} bytes of image data cannot code the {blocks:N0} blocks its header's size needs (a damaged header?)"
            : null;
        return new JpegScan(segments.ReachedEnd, orientation, scans, arithmetic, problem);
    }

    /// <summary>Reads the orientation from the first APP1 "Exif" segment; metadata segments come before the first
    /// frame header, so the search ends there. Returns whether it has ended.</summary>
    private static bool Orientation(ReadOnlySpan<byte> jpeg, JpegSegment segment, ref int orientation)
    {
        if (segment.Marker is 0xDA or >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            return true;
        var payload = segment.Payload(jpeg);
        if (segment.Marker != 0xE1 || !payload.StartsWith("Exif\0"u8) || payload.Length <= 6)
            return false;
        orientation = ExifOrientation.FromTiff(payload[6..]);
        return true;
    }

    /// <summary>The number of 8x8 blocks a frame header (SOF0-2) declares, over all its components.</summary>
    private static long Blocks(ReadOnlySpan<byte> sof)
    {
        int height = (sof[1] << 8) | sof[2], width = (sof[3] << 8) | sof[4], count = sof[5];
        if (sof.Length < 6 + 3 * count || count == 0) return 0;
        int hMax = 1, vMax = 1;
        for (var c = 0; c < count; c++)
        {
            hMax = Math.Max(hMax, sof[7 + 3 * c] >> 4);
            vMax = Math.Max(vMax, sof[7 + 3 * c] & 15);
        }
        long blocks = 0;
        for (var c = 0; c < count; c++)
        {
            int h = Math.Max(1, sof[7 + 3 * c] >> 4), v = Math.Max(1, sof[7 + 3 * c] & 15);
            long w = ((long)width * h + hMax - 1) / hMax, hh = ((long)height * v + vMax - 1) / vMax;
            blocks += ((w + 7) / 8) * ((hh + 7) / 8);
        }
        return blocks;
    }
}
