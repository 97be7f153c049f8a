using System.Text.RegularExpressions;

namespace Classify.Tests;

/// <summary>The README's example output is what the binary prints, digit for digit (a newcomer compares them
/// first; the quick start once showed scores from an older build). scripts/ci/install-test.sh runs these on the Native
/// AOT build the README's commands install, `dotnet test` on the JIT build: the resize is integer arithmetic, so both
/// print the same digits (before it, ImageSharp's float resize took its AVX2 path only in the JIT build).</summary>
public sealed partial class ReadmeExamplesTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(TestData.RepoRoot, "README.md"));

    [GeneratedRegex(@"dist/classify/classify --image_file tests/images/chelsea\.png\n\nprints\n\n((?:    .+\n)+)")]
    private static partial Regex QuickStart();

    [GeneratedRegex(@"`classify --image_file tests/images/chelsea\.png -n 1 -f jsonl` prints\n\s*`(\{[^`]+\})`")]
    private static partial Regex JsonlExample();

    /// <summary>The commit in classify_version ("1.0.0+252f5c5eefc9"): every commit changes it, and the README cannot
    /// name the commit it is part of.</summary>
    [GeneratedRegex(@"(""classify_version"":""[^""+]*\+)[0-9a-f]+""")]
    private static partial Regex VersionCommit();

    [Fact]
    public void The_quick_start_prints_what_the_readme_shows()
    {
        var shown = QuickStart().Match(Readme);
        Assert.True(shown.Success, "README: quick start block not found");
        var r = ClassifyProcess.Run(["--image_file", "tests/images/chelsea.png"], workingDirectory: TestData.RepoRoot);
        Assert.Equal(0, r.ExitCode);
        AssertSameOutput(shown.Groups[1].Value.Replace("\n    ", "\n", StringComparison.Ordinal)[4..], r.Stdout);
    }

    [Fact]
    public void The_jsonl_example_is_what_the_binary_prints()
    {
        var shown = JsonlExample().Match(Readme);
        Assert.True(shown.Success, "README: jsonl example not found");
        var r = ClassifyProcess.Run(["--image_file", "tests/images/chelsea.png", "-n", "1", "-f", "jsonl"], workingDirectory: TestData.RepoRoot);
        Assert.Equal(0, r.ExitCode);
        AssertSameOutput(WithoutCommit(shown.Groups[1].Value + "\n"), WithoutCommit(r.Stdout));
    }

    [GeneratedRegex(@"^ +(?:-\w, )?--([a-z][a-z0-9_-]*)", RegexOptions.Multiline)]
    private static partial Regex HelpOption();

    [GeneratedRegex(@"--([a-z][a-z0-9_-]*)")]
    private static partial Regex Flag();

    /// <summary>The README's synopsis of classify (its "## Usage" block up to the first subcommand).</summary>
    private static string Synopsis(string? command)
    {
        var usage = Readme[Readme.IndexOf("\n## Usage\n", StringComparison.Ordinal)..];
        var lines = usage.Split('\n').SkipWhile(l => !l.StartsWith("    classify ", StringComparison.Ordinal))
            .TakeWhile(l => l.StartsWith("    ", StringComparison.Ordinal)).ToList();
        return command is null
            ? string.Join("\n", lines.TakeWhile((l, i) => i == 0 || !l.StartsWith("    classify ", StringComparison.Ordinal)))
            : lines.Single(l => l.StartsWith($"    classify {command} ", StringComparison.Ordinal));
    }

    private static SortedSet<string> Options(string text, Regex pattern) =>
        new(pattern.Matches(text).Select(m => m.Groups[1].Value), StringComparer.Ordinal);

    [Fact]
    public void The_usage_synopsis_names_every_option_that_help_lists()
    {
        // Issue 29: the synopsis once left out --image_tar, -0, --fp16 and --channels_last.
        var help = ClassifyProcess.Run("--help");
        Assert.Equal(0, help.ExitCode);
        var listed = Options(help.Stdout, HelpOption());
        Assert.Contains("fp16", listed);
        Assert.Equal(listed, Options(Synopsis(null), Flag()));
    }

    [Theory]
    [InlineData("merge")]
    [InlineData("doctor")]
    [InlineData("bench")]
    [InlineData("decode")]
    public void A_subcommand_synopsis_names_only_options_it_has(string command)
    {
        var help = ClassifyProcess.Run(command, "--help");
        Assert.Equal(0, help.ExitCode);
        var listed = Options(help.Stdout, HelpOption());
        var shown = Options(Synopsis(command), Flag());
        Assert.NotEmpty(shown);
        Assert.Empty(shown.Except(listed));
        // and the help's own usage line too
        var usageLine = help.Stdout.Split('\n').First(l => l.StartsWith("Usage: ", StringComparison.Ordinal));
        Assert.Empty(Options(usageLine, Flag()).Except(listed));
    }

    private static string WithoutCommit(string jsonl) => VersionCommit().Replace(jsonl, "${1}COMMIT\"");

    private static void AssertSameOutput(string shown, string printed) => Assert.Equal(shown, printed);
}
