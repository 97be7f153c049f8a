using System.Text;

namespace Classify.Inputs;

/// <summary>
/// The paths of an image list, exactly as written: one per line split on '\n' only (a '\r' before it, from a CRLF
/// file, is dropped; a '\r' elsewhere belongs to the name), nothing trimmed (" a.png" names a file whose name starts
/// with a space), blank lines (empty or only white space) and lines starting with '#' skipped; or, with '\0' as the separator (find -print0,
/// --null), every NUL-terminated record a path, nothing skipped. A byte order mark at the start is skipped. A record
/// is at most <see cref="MaxPathChars"/> characters, so a binary file or /dev/zero ends in a one-line error, not in
/// memory exhaustion.
/// </summary>
public static class ImageList
{
    /// <summary>Linux's PATH_MAX is 4096 bytes; a record past four times that is not a path.</summary>
    public const int MaxPathChars = 16384;

    public static void Read(TextReader reader, char separator, string name, List<string> into)
    {
        var record = new StringBuilder();
        var buffer = new char[8192];
        long number = 1;
        var first = true;
        int n;
        while ((n = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            if (first && buffer[0] == '\uFEFF') start = 1;
            first = false;
            for (var i = start; i < n; i++)
            {
                var c = buffer[i];
                if (c == separator)
                {
                    End(record, separator, name, number++, into);
                    continue;
                }
                if (record.Length == MaxPathChars)
                    throw new ClassifyException(ExitCode.InputListUnreadable, name,
                        $"{(separator == '\0' ? "record" : "line")} {number} is over {MaxPathChars:N0} characters: not a list of image paths{(c == '\0' || record[0] == '\0' ? " (NUL bytes: for a NUL-separated list, as find -print0 writes, add --null)" : "")}");
                record.Append(c);
            }
        }
        if (record.Length > 0)
            End(record, separator, name, number, into);
    }

    private static void End(StringBuilder record, char separator, string name, long number, List<string> into)
    {
        if (separator == '\0')
        {
            // find -print0 never writes an empty record; a stream of them (/dev/zero) would never end.
            if (record.Length == 0)
                throw new ClassifyException(ExitCode.InputListUnreadable, name, $"record {number} is empty: not a NUL-separated list of image paths");
            into.Add(record.ToString());
        }
        else
        {
            if (record.Length > 0 && record[^1] == '\r')
                record.Length--;
            if (record.ToString().Contains('\0'))
                throw new ClassifyException(ExitCode.InputListUnreadable, name,
                    $"line {number} holds a NUL byte: not a list of image paths (for a NUL-separated list, as find -print0 writes, add --null)");
            if (record.Length > 0 && record[0] != '#' && !IsBlank(record))
                into.Add(record.ToString());
        }
        record.Clear();
    }

    private static bool IsBlank(StringBuilder s)
    {
        for (var i = 0; i < s.Length; i++)
            if (!char.IsWhiteSpace(s[i])) return false;
        return true;
    }
}
