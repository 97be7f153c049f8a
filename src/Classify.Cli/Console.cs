namespace Classify.Cli;

/// <summary>The process's standard streams, as a seam so tests can run commands in-process.</summary>
internal sealed record Console(TextReader In, TextWriter Out, TextWriter Error)
{
    public static Console System() => new(global::System.Console.In, global::System.Console.Out, global::System.Console.Error);

    /// <summary>
    /// Sets System.Console up without touching the terminal. On Unix its first use on a terminal (CommandLineParser
    /// reads Console.WindowWidth) sends the terminal description's keypad_xmit (ESC[?1h ESC= on xterm) and .NET never
    /// sends the reverse, so every run left the shell's arrow and keypad keys in application mode (dotnet/corefx#32805).
    /// .NET takes that string from the terminfo entry TERM names, read once, here: with TERM hidden for that moment
    /// there is none to send. classify reads no keys, so it loses nothing. Tested by
    /// CommandLineTests.The_terminal_is_left_as_it_was_found, which runs classify on a pseudo-terminal.
    /// </summary>
    public static void InitializeWithoutKeypadMode()
    {
        var term = Environment.GetEnvironmentVariable("TERM");
        if (string.IsNullOrEmpty(term))
            return;
        Environment.SetEnvironmentVariable("TERM", null);
        try
        {
            _ = global::System.Console.WindowWidth;
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or PlatformNotSupportedException)
        {
            // Not a terminal: nothing was sent either way.
        }
        finally
        {
            Environment.SetEnvironmentVariable("TERM", term);
        }
    }
}
