using System.Diagnostics;
using System.Globalization;

namespace Classify.Tests;

/// <summary>The photo corpora of the agreement tests, made by the generators in tests/agreement (python3-pil) from the
/// repository's photos: deterministic, so a measured agreement stays the same on every machine.</summary>
internal static class AgreementCorpus
{
    /// <summary>Runs tests/agreement/<paramref name="script"/> to write <paramref name="count"/> JPEGs into
    /// <paramref name="dir"/>; the test fails with the script's standard error where it fails.</summary>
    public static void Make(string script, string dir, int count)
    {
        var make = Process.Start(new ProcessStartInfo("/usr/bin/python3",
            [Path.Combine(TestData.RepoRoot, "tests", "agreement", script), dir, count.ToString(CultureInfo.InvariantCulture)])
            { RedirectStandardError = true })!;
        var errors = make.StandardError.ReadToEnd();
        make.WaitForExit();
        Assert.True(make.ExitCode == 0, $"{script}: {errors}");
    }
}
