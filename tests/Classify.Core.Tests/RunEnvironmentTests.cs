using Classify.Models;
using Classify.Models.Zoo;

namespace Classify.Tests;

/// <summary>Issue 27: the parts of a run read the environment they are handed, not the process's.</summary>
public sealed class RunEnvironmentTests
{
    private static RunEnvironment Of(params (string Name, string Value)[] variables) =>
        new(variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal));

    [Fact]
    public void Unset_empty_and_set_are_told_apart()
    {
        var env = Of(("A", ""), ("B", "x"));
        Assert.Null(env["C"]);
        Assert.Equal("", env["A"]);
        Assert.Null(env.NonEmpty("A"));
        Assert.Equal("x", env.NonEmpty("B"));
        Assert.Null(env.With("B", null)["B"]);
        Assert.Equal("x", env["B"]); // With copies
    }

    [Fact]
    public void The_process_environment_is_a_snapshot()
    {
        var name = "CLASSIFY_TEST_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "before");
        try
        {
            var env = RunEnvironment.OfProcess();
            Environment.SetEnvironmentVariable(name, "after");
            Assert.Equal("before", env[name]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void The_model_cache_and_search_path_follow_the_environment_given()
    {
        var env = Of(("CLASSIFY_CACHE", "/scratch/c"), ("CLASSIFY_MODEL_DIR", "/site/models:/project/models"));
        var cache = ModelCache.ForUser(env);
        Assert.Equal("/scratch/c", cache.Root);
        Assert.Equal(["/site/models", "/project/models", ModelCatalog.BundledModelDir(), "/scratch/c/models"],
            ModelCatalog.SearchPath(null, cache, env));
        Assert.Equal("/x/.cache/classify", ModelCache.ForUser(Of(("HOME", "/x"))).Root);
        Assert.Equal("/xdg/classify", ModelCache.ForUser(Of(("HOME", "/x"), ("XDG_CACHE_HOME", "/xdg"))).Root);
    }

    [Fact]
    public void Download_settings_come_from_the_environment_given()
    {
        var s = DownloadSettings.FromEnvironment(Of(("CLASSIFY_MODEL_MIRROR", "http://127.0.0.1:1/m"), ("CLASSIFY_OFFLINE", "1"),
            ("CLASSIFY_CONNECT_TIMEOUT", "2.5"), ("CLASSIFY_DOWNLOAD_ATTEMPTS", "7")));
        Assert.Equal(("http://127.0.0.1:1/m", true, TimeSpan.FromSeconds(2.5), 7), (s.Mirror, s.Offline, s.ConnectTimeout, s.Attempts));
        var defaults = DownloadSettings.FromEnvironment(Of());
        Assert.Equal((null, false, 4), (defaults.Mirror, defaults.Offline, defaults.Attempts));
    }
}
