using CommandLine;

namespace Classify.Cli.Commands;

[Verb("doctor", HelpText = "Say whether a GPU is usable and, if not, why and how to fix it. Exit 0: usable; 20: not.")]
internal sealed class DoctorOptions
{
    [Option("json", HelpText = "Print the findings as one JSON object (for scripts).")]
    public bool Json { get; set; }

    [Option("verbose", HelpText = "Also list every step the probe tried (files read, libraries loaded, CUDA calls).")]
    public bool Verbose { get; set; }

    [Help("Options", "N")]
    [Option("gpu", Default = 0, HelpText = "Index of the GPU to check (among the visible ones).")]
    public int Gpu { get; set; }
}
