using System.Text;
using Classify.Inputs;

namespace Classify.Output;

/// <summary>
/// Writes text to a stream as UTF-8, except that the escaped bytes of a file name that is not UTF-8
/// (<see cref="FileNames"/>) are written as the bytes they stand for: text and csv output then name such a file by its
/// real name, byte for byte (a StreamWriter would write U+FFFD). JSON never hands it one: it writes such names as
/// \udcXX escapes. <see cref="AutoFlush"/> flushes after every write that ends a line (standard output).
/// </summary>
public sealed class RawNameWriter(Stream stream, bool leaveOpen = true) : TextWriter
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private readonly byte[] _buffer = new byte[1 << 16];
    private int _used;
    private char _high;

    public bool AutoFlush { get; init; }

    /// <summary>The stream under the text (a binary format, parquet, writes to it after <see cref="Flush"/>).</summary>
    internal Stream BaseStream => stream;

    public override Encoding Encoding => Utf8;

    public override void Write(char value) => Write(new ReadOnlySpan<char>(in value));

    public override void Write(string? value) => Write(value.AsSpan());

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(ReadOnlySpan<char> chars)
    {
        var ends = AutoFlush && chars.EndsWith("\n");
        Span<char> pair = stackalloc char[2];
        while (!chars.IsEmpty)
        {
            if (_high != 0)
            {
                var high = _high;
                _high = '\0';
                if (char.IsLowSurrogate(chars[0]))
                {
                    (pair[0], pair[1]) = (high, chars[0]);
                    Put(pair);
                    chars = chars[1..];
                    continue;
                }
                Put("\uFFFD");
            }
            var surrogate = chars.IndexOfAnyInRange('\uD800', '\uDFFF');
            var run = surrogate < 0 ? chars : chars[..surrogate];
            Put(run);
            if (surrogate < 0)
                break;
            var c = chars[surrogate];
            chars = chars[(surrogate + 1)..];
            if (char.IsHighSurrogate(c))
                _high = c;
            else if (c is >= '\uDC80' and <= '\uDCFF')
                PutByte((byte)(c - '\uDC80' + 0x80));
            else
                Put("\uFFFD");
        }
        if (ends) Flush();
    }

    private void Put(ReadOnlySpan<char> text)
    {
        while (!text.IsEmpty)
        {
            if (_buffer.Length - _used < 8) Drain();
            // At most 3 bytes per char; a pair is not split between two chunks.
            var part = text[..Math.Min((_buffer.Length - _used) / 3, text.Length)];
            if (part.Length < text.Length && char.IsHighSurrogate(part[^1])) part = part[..^1];
            _used += Utf8.GetBytes(part, _buffer.AsSpan(_used));
            text = text[part.Length..];
        }
    }

    private void PutByte(byte b)
    {
        if (_used == _buffer.Length) Drain();
        _buffer[_used++] = b;
    }

    /// <summary>Bytes that are UTF-8 already (a JSON record from Utf8JsonWriter), written as they are: no string
    /// between (issue 27). <paramref name="endsLine"/>: they end a line, which AutoFlush flushes.</summary>
    public void WriteUtf8(ReadOnlySpan<byte> bytes, bool endsLine = false)
    {
        if (_high != 0) { _high = '\0'; Put("\uFFFD"); }
        if (bytes.Length > _buffer.Length - _used) Drain();
        if (bytes.Length > _buffer.Length)
            stream.Write(bytes);
        else
        {
            bytes.CopyTo(_buffer.AsSpan(_used));
            _used += bytes.Length;
        }
        if (AutoFlush && endsLine) Flush();
    }

    private void Drain()
    {
        stream.Write(_buffer, 0, _used);
        _used = 0;
    }

    public override void Flush()
    {
        Drain();
        stream.Flush();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_high != 0) { _high = '\0'; Put("\uFFFD"); }
            Flush();
            if (!leaveOpen) stream.Dispose();
        }
        base.Dispose(disposing);
    }
}
