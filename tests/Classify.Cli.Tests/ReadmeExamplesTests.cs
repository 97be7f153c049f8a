using System.Text.RegularExpressions;

namespace Classify.Tests;

/// <summary>The README's example output is what the installed binary prints, digit for digit (a newcomer compares them
/// first; the quick start once showed scores from an older build). scripts/ci/install-test.sh runs these on the Native
/// AOT build the README's commands install. The JIT build `dotnet test` runs differs in the fifth decimal on CPUs with
/// AVX2: ImageSharp's resize takes its AVX2 path there, while the AOT build targets x86-64 without AVX2 so that it
/// starts on any node; for that flavour the labels must agree and the scores within 1e-4.</summary>
public sealed partial class ReadmeExamplesTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(TestData.RepoRoot, "README.md"));

    [GeneratedRegex(@"dist/classify/classify --image_file tests/images/chelsea\.png\n\nprints\n\n((?:    .+\n)+)")]
    private static partial Regex QuickStart();

    [GeneratedRegex(@"`classify --image_file tests/images/chelsea\.png -n 1 -f jsonl` prints\n\s*`(\{[^`]+\})`")]
    private static partial Regex JsonlExample();

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
        AssertSameOutput(shown.Groups[1].Value + "\n", r.Stdout);
    }

    [GeneratedRegex(@"\d\.\d{5,6}")]
    private static partial Regex Score();

    private static void AssertSameOutput(string shown, string printed)
    {
        if (Environment.GetEnvironmentVariable("CLASSIFY_TEST_EXECUTABLE") is { Length: > 0 })
        {
            Assert.Equal(shown, printed);
            return;
        }
        Assert.Equal(Score().Replace(shown, "S"), Score().Replace(printed, "S"));
        foreach (var (a, b) in Score().Matches(shown).Zip(Score().Matches(printed)))
            Assert.Equal(double.Parse(a.Value, System.Globalization.CultureInfo.InvariantCulture), double.Parse(b.Value, System.Globalization.CultureInfo.InvariantCulture), 1e-4);
    }
}
