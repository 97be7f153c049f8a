using Classify.Inputs;

namespace Classify.Cli;

/// <summary>
/// The command line as bytes. .NET decodes argv as UTF-8 and a byte that is not (<c>classify caf\xe9.png</c>) arrives
/// as U+FFFD, naming no file; the kernel still has the bytes in /proc/self/cmdline. The program's own arguments are
/// its last ones there whether it runs as the AOT binary, an apphost or <c>dotnet classify.dll</c>, so they are
/// matched from the end, and an argument is replaced only when its bytes decode to exactly what .NET gave.
/// </summary>
internal static class RawArguments
{
    public static string[] Recover(string[] args, string cmdline = "/proc/self/cmdline")
    {
        if (!args.Any(a => a.Contains('\uFFFD')))
            return args;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(cmdline);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return args;
        }
        var raw = new List<byte[]>();
        var start = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != 0) continue;
            raw.Add(bytes[start..i]);
            start = i + 1;
        }
        if (raw.Count < args.Length)
            return args;
        var recovered = (string[])args.Clone();
        var offset = raw.Count - args.Length;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].Contains('\uFFFD') && System.Text.Encoding.UTF8.GetString(raw[offset + i]) == args[i])
                recovered[i] = FileNames.FromBytes(raw[offset + i]);
        }
        return recovered;
    }
}
