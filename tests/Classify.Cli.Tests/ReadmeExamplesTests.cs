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

    private static string WithoutCommit(string jsonl) => VersionCommit().Replace(jsonl, "${1}COMMIT\"");

    private static void AssertSameOutput(string shown, string printed) => Assert.Equal(shown, printed);
}
