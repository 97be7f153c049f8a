using Classify.Gpu;
using Classify.Inputs;

namespace Classify.Cli;

/// <summary>
/// What a run is given by the process it runs in, read once in Program and passed to the command: the standard
/// streams (a seam, so tests run commands in-process), whether they are this process's own and which are terminals,
/// the environment variables and the GPU report, probed at most once per run (issue 27: no part reads the
/// environment or compares streams by identity on its own).
/// </summary>
internal sealed record RunContext(TextReader In, TextWriter Out, TextWriter Error)
{
    /// <summary>The run's environment variables; by default this process's, as they were when the context was made.</summary>
    public RunEnvironment Environment { get; init; } = RunEnvironment.OfProcess();

    /// <summary>In, Out and Error are this process's descriptors 0, 1 and 2 (not a test's writers).</summary>
    public bool ProcessStreams { get; init; }

    /// <summary>Standard output is a terminal (results and progress then share it).</summary>
    public bool OutIsTerminal { get; init; }

    /// <summary>Standard error is a terminal (progress is redrawn in place there).</summary>
    public bool ErrorIsTerminal { get; init; }

    /// <summary>The GPU probe's report for this run, made on first use and kept.</summary>
    public GpuReports Gpu => _gpuReports ??= GpuReports.ForThisProcess(Environment);
    private GpuReports? _gpuReports;

    /// <summary>Standard input already holds data (paths piped in without '-'); asked only when needed, once.</summary>
    public bool InputHoldsData => ProcessStreams && (_holdsData ??= StandardInput.HoldsData());
    private bool? _holdsData;

    /// <summary>The context of this process: its streams, terminals and environment.</summary>
    public static RunContext OfProcess() => new(global::System.Console.In, global::System.Console.Out, global::System.Console.Error)
    {
        ProcessStreams = true,
        OutIsTerminal = !global::System.Console.IsOutputRedirected,
        ErrorIsTerminal = !global::System.Console.IsErrorRedirected,
    };

    /// <summary>A writer of results onto this process's standard output, with write(2) on descriptor 1 (a closed pipe or
    /// a full disk then fails as the output, exit 14), for the caller to dispose; null where Out is a test's writer.</summary>
    public TextWriter? OpenStandardOutput() =>
        ProcessStreams ? Output.ResultWriter.OpenText(Output.OutputFaults.OpenStandardOutput(), autoFlush: true) : null;

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
        var term = global::System.Environment.GetEnvironmentVariable("TERM");
        if (string.IsNullOrEmpty(term))
            return;
        global::System.Environment.SetEnvironmentVariable("TERM", null);
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
            global::System.Environment.SetEnvironmentVariable("TERM", term);
        }
    }
}
