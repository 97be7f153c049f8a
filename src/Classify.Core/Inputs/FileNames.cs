using System.Text;

namespace Classify.Inputs;

/// <summary>
/// Linux file names are bytes, not text: <c>caf\xe9.png</c> (Latin-1, from an old camera or a Windows share) is a
/// valid name that is not UTF-8, and .NET's own decoding turns its byte into U+FFFD, after which the file cannot be
/// opened and two such names collide. classify carries names the way Python's os.fsdecode does ("surrogateescape",
/// PEP 383): every byte of an invalid UTF-8 sequence becomes the lone surrogate U+DC80 + byte, which no valid UTF-8
/// decodes to, so the mapping is lossless both ways. Such names are opened through <see cref="NativeFile"/> with
/// their original bytes, written raw to text and csv output, and as <c>\udce9</c> escapes in JSON (which
/// Python's json.loads and os.fsencode turn back into the same bytes).
/// </summary>
public static class FileNames
{
    private const char EscapeBase = '\uDC80';

    /// <summary>Whether <paramref name="name"/> holds an escaped byte (it came from a name that is not UTF-8).</summary>
    public static bool HasEscapes(string name) => name.AsSpan().IndexOfAnyInRange('\uDC80', '\uDCFF') >= 0;

    /// <summary>The name's bytes: UTF-8, with escaped bytes restored.</summary>
    public static byte[] ToBytes(string name)
    {
        if (!HasEscapes(name))
            return Encoding.UTF8.GetBytes(name);
        var bytes = new List<byte>(name.Length + 8);
        Span<byte> rune = stackalloc byte[4];
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (c is >= '\uDC80' and <= '\uDCFF')
            {
                bytes.Add((byte)(c - EscapeBase + 0x80));
                continue;
            }
            Rune r;
            if (char.IsHighSurrogate(c) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
                r = new Rune(c, name[++i]);
            else if (char.IsSurrogate(c))
                r = Rune.ReplacementChar; // a lone surrogate no name decoding produced: not representable as bytes
            else
                r = new Rune(c);
            var n = r.EncodeToUtf8(rune);
            for (var k = 0; k < n; k++) bytes.Add(rune[k]);
        }
        return [.. bytes];
    }

    /// <summary>The name's bytes and a terminating NUL, for a system call.</summary>
    public static byte[] ToCString(string name)
    {
        var bytes = ToBytes(name);
        var c = new byte[bytes.Length + 1];
        bytes.CopyTo(c, 0);
        return c;
    }

    /// <summary>A name for a message on a terminal: an escaped byte as \xE9 (stderr is UTF-8 text, so the raw byte
    /// would print as a replacement character).</summary>
    public static string Printable(string name)
    {
        if (!HasEscapes(name))
            return name;
        var text = new StringBuilder(name.Length + 8);
        foreach (var c in name)
            text.Append(c is >= '\uDC80' and <= '\uDCFF' ? $"\\x{c - EscapeBase + 0x80:x2}" : c);
        return text.ToString();
    }

    /// <summary>Decodes a name's bytes: valid UTF-8 as text, every other byte escaped.</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (System.Text.Unicode.Utf8.IsValid(bytes))
            return Encoding.UTF8.GetString(bytes);
        var text = new StringBuilder(bytes.Length);
        while (!bytes.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(bytes, out var rune, out var consumed);
            if (status == System.Buffers.OperationStatus.Done)
            {
                text.Append(rune.ToString());
            }
            else
            {
                // Only the first byte of an invalid sequence is escaped; decoding resumes at the next one, as Python does.
                consumed = 1;
                text.Append((char)(EscapeBase + bytes[0] - 0x80));
            }
            bytes = bytes[consumed..];
        }
        return text.ToString();
    }
}
