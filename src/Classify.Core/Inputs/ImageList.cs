using System.Text;

namespace Classify.Inputs;

/// <summary>
/// The paths of an image list, exactly as written: one per line split on '\n' only (a '\r' before it, from a CRLF
/// file, is dropped; a '\r' elsewhere belongs to the name), nothing trimmed (" a.png" names a file whose name starts
/// with a space), blank lines (empty or only white space) and lines starting with '#' skipped; or, with '\0' as the separator (find -print0,
/// --null), every NUL-terminated record a path, nothing skipped. A byte order mark at the start is skipped. A record
/// is at most <see cref="MaxPathBytes"/> bytes, so a binary file or /dev/zero ends in a one-line error, not in
/// memory exhaustion.
/// </summary>
public static class ImageList
{
    /// <summary>Linux's PATH_MAX is 4096 bytes; a record past four times that is not a path.</summary>
    public const int MaxPathBytes = 16384;

    /// <summary>Reads the list's bytes: each record is decoded by <see cref="FileNames.FromBytes"/>, so a name that
    /// is not UTF-8 names its file.</summary>
    public static void Read(Stream stream, byte separator, string name, List<string> into)
    {
        var splitter = new Splitter(separator, name, into);
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
            splitter.Add(buffer.AsSpan(0, n));
        splitter.Finish();
    }

    /// <summary>The same for a list that is text already (a test's standard input).</summary>
    public static void Read(TextReader reader, byte separator, string name, List<string> into)
    {
        var splitter = new Splitter(separator, name, into);
        var chars = new char[8192];
        var bytes = new byte[Encoding.UTF8.GetMaxByteCount(chars.Length)];
        var encoder = new UTF8Encoding(false).GetEncoder();
        int n;
        while ((n = reader.Read(chars, 0, chars.Length)) > 0)
            splitter.Add(bytes.AsSpan(0, encoder.GetBytes(chars, 0, n, bytes, 0, flush: false)));
        splitter.Add(bytes.AsSpan(0, encoder.GetBytes(chars, 0, 0, bytes, 0, flush: true)));
        splitter.Finish();
    }

    private sealed class Splitter(byte separator, string name, List<string> into)
    {
        private readonly byte[] _record = new byte[MaxPathBytes];
        private int _length;
        private long _number = 1;
        private bool _first = true;

        public void Add(ReadOnlySpan<byte> bytes)
        {
            if (_first && bytes.Length > 0)
            {
                // A byte order mark (from a Windows editor or PowerShell) is no part of the first name. It may come
                // split over reads only on a pipe that delivers fewer than three bytes at first: not handled.
                if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
                _first = false;
            }
            while (!bytes.IsEmpty)
            {
                var end = bytes.IndexOf(separator);
                var part = end < 0 ? bytes : bytes[..end];
                if (_length + part.Length > MaxPathBytes)
                {
                    var nul = part.Contains((byte)0) || (_length > 0 && _record[0] == 0);
                    throw new ClassifyException(ExitCode.InputListUnreadable, name,
                        $"{(separator == 0 ? "record" : "line")} {_number} is over {MaxPathBytes:N0} bytes: not a list of image paths{(nul && separator != 0 ? " (NUL bytes: for a NUL-separated list, as find -print0 writes, add --null)" : "")}");
                }
                part.CopyTo(_record.AsSpan(_length));
                _length += part.Length;
                if (end < 0)
                    return;
                End();
                bytes = bytes[(end + 1)..];
            }
        }

        public void Finish()
        {
            if (_length > 0)
                End();
        }

        private void End()
        {
            var record = _record.AsSpan(0, _length);
            var number = _number++;
            _length = 0;
            if (separator == 0)
            {
                // find -print0 never writes an empty record; a stream of them (/dev/zero) would never end.
                if (record.IsEmpty)
                    throw new ClassifyException(ExitCode.InputListUnreadable, name, $"record {number} is empty: not a NUL-separated list of image paths");
                into.Add(FileNames.FromBytes(record));
                return;
            }
            if (!record.IsEmpty && record[^1] == (byte)'\r')
                record = record[..^1];
            if (record.Contains((byte)0))
                throw new ClassifyException(ExitCode.InputListUnreadable, name,
                    $"line {number} holds a NUL byte: not a list of image paths (for a NUL-separated list, as find -print0 writes, add --null)");
            if (!record.IsEmpty && record[0] != (byte)'#' && !IsBlank(record))
                into.Add(FileNames.FromBytes(record));
        }

        private static bool IsBlank(ReadOnlySpan<byte> s)
        {
            foreach (var b in s)
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\v' or (byte)'\f' or (byte)'\r')) return false;
            return true;
        }
    }
}
