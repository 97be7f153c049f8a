namespace Classify.Cli;

/// <summary>The process's standard streams, as a seam so tests can run commands in-process.</summary>
internal sealed record Console(TextReader In, TextWriter Out, TextWriter Error)
{
    public static Console System() => new(global::System.Console.In, global::System.Console.Out, global::System.Console.Error);
}
