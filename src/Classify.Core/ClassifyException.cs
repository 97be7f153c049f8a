namespace Classify;

/// <summary>
/// An error the user can act on: printed as one line (<c>classify: FILE: problem</c>) with
/// <see cref="ExitCode"/>, never as a stack trace.
/// </summary>
public sealed class ClassifyException : Exception
{
    public ClassifyException(int exitCode, string? file, string message, Exception? inner = null)
        : base(message, inner)
    {
        ExitCode = exitCode;
        File = file;
    }

    public int ExitCode { get; }

    /// <summary>The file the problem is about, or null when it concerns no file.</summary>
    public string? File { get; }

    /// <summary>The one-line form: "FILE: message" (newlines of native messages folded).</summary>
    public string OneLine => Fold(File is null ? Message : $"{Printable(File)}: {Message}");

    /// <summary>A file name as one line: control characters (a newline in a name) written as \n, \t, \xNN, and the bytes
    /// of a name that is not UTF-8 as \xNN (<see cref="Inputs.FileNames"/>), unless <paramref name="keepBytes"/> (text
    /// output, written by <see cref="Output.RawNameWriter"/>, which writes them as the bytes they are).</summary>
    public static string Printable(string s, bool keepBytes = false)
    {
        if (!keepBytes) s = Inputs.FileNames.Printable(s);
        if (!s.AsSpan().ContainsAnyInRange('\0', '\x1f') && !s.Contains('\x7f', StringComparison.Ordinal))
            return s;
        var b = new System.Text.StringBuilder(s.Length + 8);
        foreach (var c in s)
            b.Append(c switch
            {
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                < ' ' or '\x7f' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        return b.ToString();
    }

    public static string Fold(string s) => string.Join(' ', s.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
