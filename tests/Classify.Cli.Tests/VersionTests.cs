using System.Text.RegularExpressions;

namespace Classify.Tests;

/// <summary>classify's version is written in one place per build: Directory.Build.props for `dotnet build` and
/// install.sh, the Dockerfile's VERSION argument for an image (which also labels the image and the SIF made from it).
/// Their defaults must agree, or `apptainer inspect` and `classify --version` name two versions.</summary>
public sealed class VersionTests
{
    private static string PropsVersion() =>
        Regex.Match(File.ReadAllText(Path.Combine(TestData.RepoRoot, "Directory.Build.props")), "<Version>([^<]+)</Version>").Groups[1].Value;

    [Fact]
    public void The_Dockerfiles_VERSION_defaults_are_the_projects_version()
    {
        var version = PropsVersion();
        Assert.NotEqual("", version);
        var defaults = Regex.Matches(File.ReadAllText(Path.Combine(TestData.RepoRoot, "Dockerfile")), @"^ARG VERSION=(\S+)$", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(2, defaults.Count); // the build stage's (into the executable) and the runtime stage's (the label)
        Assert.All(defaults, d => Assert.Equal(version, d));
    }

    [Fact]
    public void Classify_version_prints_the_projects_version()
    {
        var r = ClassifyProcess.Run("--version");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith($"classify {PropsVersion()} (commit ", r.Stdout);
    }
}
