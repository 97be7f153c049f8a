namespace Classify.Images.Jpeg;

/// <summary>One marker segment of a JPEG; for a start of scan (SOS), also the entropy-coded bytes that follow it.</summary>
internal readonly record struct JpegSegment(byte Marker, int PayloadStart, int PayloadLength, long ScanBytes)
{
    public ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> jpeg) => jpeg.Slice(PayloadStart, PayloadLength);
}

/// <summary>
/// The marker segments of a JPEG in file order, from after SOI to EOI, following the structure the way decoders
/// do: stray bytes and fill bytes between segments are skipped, and a scan's entropy-coded data runs to the next
/// marker that is not a stuffed zero or a restart (RSTn). The walk stops at EOI (<see cref="ReachedEnd"/>) or
/// where the file is cut off. <see cref="JpegScanner"/> walks it once for everything classify reads of a JPEG.
/// </summary>
internal ref struct JpegSegments(ReadOnlySpan<byte> jpeg)
{
    private readonly ReadOnlySpan<byte> _jpeg = jpeg;
    private int _pos = 2; // after SOI

    public JpegSegment Current { get; private set; }

    /// <summary>Whether the walk got to EOI, every segment and scan before it whole.</summary>
    public bool ReachedEnd { get; private set; }

    public readonly JpegSegments GetEnumerator() => this;

    public bool MoveNext()
    {
        while (!ReachedEnd && _pos + 1 < _jpeg.Length)
        {
            if (_jpeg[_pos] != 0xFF) { _pos++; continue; } // stray bytes between segments
            var marker = _jpeg[_pos + 1];
            if (marker == 0xFF) { _pos++; continue; } // fill byte
            if (marker is 0x00 or 0x01 or >= 0xD0 and <= 0xD7) { _pos += 2; continue; } // no length: stuffed zero, TEM, RSTn
            if (marker == 0xD9)
            {
                ReachedEnd = true;
                return false;
            }
            if (_pos + 3 >= _jpeg.Length)
                return false;
            var length = (_jpeg[_pos + 2] << 8) | _jpeg[_pos + 3];
            var payload = _pos + 4;
            _pos += 2 + length;
            long scanBytes = 0;
            if (marker == 0xDA)
            {
                var start = _pos;
                while (true)
                {
                    if (_pos + 1 >= _jpeg.Length)
                        return false; // the scan runs to the end of the file
                    var ff = _jpeg[_pos..].IndexOf((byte)0xFF);
                    if (ff < 0)
                        return false;
                    _pos += ff;
                    if (_pos + 1 >= _jpeg.Length)
                        return false;
                    if (_jpeg[_pos + 1] is not (0x00 or >= 0xD0 and <= 0xD7))
                        break;
                    _pos += 2;
                }
                scanBytes = _pos - start;
            }
            Current = new JpegSegment(marker, payload, Math.Max(0, Math.Min(length - 2, _jpeg.Length - payload)), scanBytes);
            return true;
        }
        return false;
    }
}
