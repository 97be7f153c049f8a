using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Xunit;

namespace Classify.Tests;

/// <summary>
/// `classify models pull` and `--model NAME` downloads, through the real binary, against a real HTTP server on
/// 127.0.0.1 that serves the bundled SqueezeNet under a catalogue path (as a site mirror would): a test catalogue
/// pins its real sha256 and size. Every fault a network can produce that a pull must survive or report is here.
/// </summary>
public sealed class ModelZooTests : IDisposable
{
    private const string Name = "squeezenet-mirror";
    private const string Alias = "sqm";
    private const string FilePath = "zoo/squeezenet/squeezenet-mirror.onnx";

    private readonly TempDir _dir = new();
    private readonly ModelServer _server = new();
    private readonly byte[] _model = File.ReadAllBytes(Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), "squeezenet1.1.onnx"));
    private readonly string _catalogue;
    private readonly string _cache;

    public ModelZooTests()
    {
        _server.Serve(FilePath, _model);
        _cache = Path.Combine(_dir.Path, "cache");
        var squeezenet = ModelCopy.ReadManifest(TestData.SqueezeNet);
        var catalogue = new JsonObject
        {
            ["baseUrl"] = "https://models.invalid/",
            ["models"] = new JsonArray(new JsonObject
            {
                ["name"] = Name,
                ["aliases"] = new JsonArray(Alias),
                ["licence"] = "MIT",
                ["top1"] = 57.5,
                ["file"] = new JsonObject { ["path"] = FilePath, ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(_model)), ["bytes"] = _model.Length },
                ["labels"] = new JsonObject
                {
                    ["path"] = Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt"),
                    ["synsets"] = Path.Combine(TestData.Models, "labels", "synset.txt"),
                },
                ["manifest"] = new JsonObject { ["input"] = squeezenet["input"]!.DeepClone(), ["output"] = squeezenet["output"]!.DeepClone() },
            }),
        };
        _catalogue = Path.Combine(_dir.Path, "catalog.json");
        File.WriteAllText(_catalogue, catalogue.ToJsonString());
    }

    public void Dispose()
    {
        _server.Dispose();
        _dir.Dispose();
    }

    private Dictionary<string, string?> Env(string? mirror = null, int attempts = 3) => new()
    {
        ["CLASSIFY_CATALOG"] = _catalogue,
        ["CLASSIFY_CACHE"] = _cache,
        ["CLASSIFY_MODEL_MIRROR"] = mirror ?? _server.Url,
        ["CLASSIFY_READ_TIMEOUT"] = "2",
        ["CLASSIFY_DOWNLOAD_ATTEMPTS"] = attempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private ProcessResult Classify(Dictionary<string, string?> env, params string[] args) => ClassifyProcess.Run(args, env: env);

    private string Installed => Path.Combine(_cache, "models", Name);

    [Fact]
    public void A_pull_installs_the_model_and_it_classifies_as_the_bundled_file_does()
    {
        var pull = Classify(Env(), "models", "pull", Alias);
        Assert.True(pull.ExitCode == 0, pull.Stderr);
        Assert.Equal(Installed, pull.Stdout.Trim());
        Assert.Equal(_model, File.ReadAllBytes(Path.Combine(Installed, "squeezenet-mirror.onnx")));
        Assert.Contains("downloading squeezenet-mirror", pull.Stderr);

        var path = Classify(Env(), "models", "path", Alias);
        Assert.Equal(Installed, path.Stdout.Trim());
        var list = Classify(Env(), "models", "list");
        Assert.Matches($"{Name} +downloaded", list.Stdout);
        Assert.Matches($"{TestData.DefaultModel} \\(default\\) +bundled", list.Stdout);

        var mirrored = Classify(Env(), "--model", Alias, TestData.Chelsea);
        var bundled = Classify(Env(), "--model", TestData.SqueezeNet, TestData.Chelsea);
        Assert.Equal(0, mirrored.ExitCode);
        Assert.Equal(bundled.Stdout, mirrored.Stdout);
        Assert.Contains(TestData.EgyptianCat, mirrored.Stdout);
        Assert.Single(_server.Requests); // installed once, read from the cache since
        Assert.Equal(0, Classify(Env(), "models", "verify", Name).ExitCode);
    }

    [Fact]
    public void Model_name_downloads_on_first_use_like_classify_image_py()
    {
        var first = Classify(Env(), "--model", Name, TestData.Chelsea);
        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("downloading", first.Stderr);
        Assert.Contains(TestData.EgyptianCat, first.Stdout);
        var second = Classify(Env(), "--model", Name, TestData.Chelsea);
        Assert.Equal(first.Stdout, second.Stdout);
        Assert.DoesNotContain("downloading", second.Stderr);
        Assert.Single(_server.Requests);
    }

    [Fact]
    public void A_checksum_mismatch_installs_nothing_and_says_so()
    {
        _server.Then(ServerFault.Corrupt);
        var pull = Classify(Env(), "models", "pull", Name);
        Assert.Equal(11, pull.ExitCode);
        Assert.Contains("checksum mismatch", pull.Stderr);
        Assert.Contains("nothing installed", pull.Stderr);
        Assert.False(Directory.Exists(Installed));
        Assert.Equal(0, Classify(Env(), "models", "pull", Name).ExitCode); // the bad bytes were not kept to resume from
        Assert.Equal(_model, File.ReadAllBytes(Path.Combine(Installed, "squeezenet-mirror.onnx")));
    }

    [Fact]
    public void A_connection_closed_half_way_is_resumed_with_a_range_request()
    {
        _server.Then(ServerFault.CloseHalfway);
        var pull = Classify(Env(), "models", "pull", Name);
        Assert.True(pull.ExitCode == 0, pull.Stderr);
        Assert.Contains("retrying", pull.Stderr);
        var requests = _server.Requests.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.Matches($"GET /{FilePath} bytes={_model.Length / 2}-$", requests[1]);
        Assert.Equal(_model, File.ReadAllBytes(Path.Combine(Installed, "squeezenet-mirror.onnx")));
    }

    [Fact]
    public void Not_found_fails_at_once_naming_the_url()
    {
        _server.Then(ServerFault.NotFound);
        var pull = Classify(Env(), "models", "pull", Name);
        Assert.Equal(16, pull.ExitCode);
        Assert.Contains($"{_server.Url}/{FilePath}: HTTP 404", pull.Stderr);
        Assert.Single(_server.Requests); // a 404 is not retried
        Assert.False(Directory.Exists(Installed));
    }

    [Fact]
    public void A_server_that_never_answers_times_out_instead_of_hanging()
    {
        _server.Then(ServerFault.Hang, ServerFault.Hang);
        var clock = Stopwatch.StartNew();
        var pull = Classify(Env(attempts: 2), "models", "pull", Name);
        Assert.Equal(16, pull.ExitCode);
        Assert.Contains("no answer within 2 s", pull.Stderr);
        Assert.InRange(clock.Elapsed.TotalSeconds, 4, 30); // two 2 s timeouts and a 1 s back-off, plus start-up
        Assert.Single(pull.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("download failed after 2 attempts"));
    }

    [Fact]
    public async Task Two_jobs_pulling_the_same_model_download_it_once()
    {
        _server.BodyDelay = TimeSpan.FromMilliseconds(15); // ~1 s for the whole file: the second job finds the lock held
        var env = Env();
        var a = Task.Run(() => Classify(env, "models", "pull", Name));
        var b = Task.Run(() => Classify(env, "--model", Name, TestData.Chelsea));
        var results = await Task.WhenAll(a, b);
        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Stderr));
        Assert.Equal(1, _server.CompleteBodies);
        Assert.Contains(results, r => r.Stderr.Contains("waiting for another classify that is pulling"));
        Assert.Contains(TestData.EgyptianCat, results[1].Stdout);
        Assert.Equal([Name], Directory.GetDirectories(Path.Combine(_cache, "models")).Select(Path.GetFileName)); // no temporary folders left
    }

    [Fact]
    public void Downloads_go_through_the_proxy_the_environment_names()
    {
        // The mirror's host does not resolve: only the proxy (this server) can fetch it.
        var env = Env("http://mirror.invalid");
        env["HTTP_PROXY"] = _server.Url;
        env["http_proxy"] = _server.Url;
        var pull = Classify(env, "models", "pull", Name);
        Assert.True(pull.ExitCode == 0, pull.Stderr);
        Assert.Equal($"GET /{FilePath} (proxied)", Assert.Single(_server.Requests));
        env["NO_PROXY"] = "mirror.invalid";
        env["no_proxy"] = "mirror.invalid";
        Assert.Equal(16, Classify(env, "models", "pull", "--force", Name).ExitCode); // no proxy for that host: it cannot resolve
    }

    [Fact]
    public void Offline_mode_fails_at_once_naming_the_command_for_a_login_node()
    {
        var env = Env();
        env["CLASSIFY_OFFLINE"] = "1";
        var run = Classify(env, "--model", Alias, TestData.Chelsea);
        Assert.Equal(16, run.ExitCode);
        Assert.Contains("CLASSIFY_OFFLINE=1", run.Stderr);
        Assert.Contains($"classify models pull {Name}", run.Stderr);
        Assert.Empty(_server.Requests);
    }

    [Fact]
    public void A_server_that_sends_another_file_is_named_at_once_not_retried()
    {
        // A mirror path that serves something else (an HTML page, an older file): its size is not the pinned one.
        _server.Serve(FilePath, "<html>moved</html>"u8.ToArray());
        var pull = Classify(Env(attempts: 4), "models", "pull", Name);
        Assert.Equal(ExitCode.ModelCorrupt, pull.ExitCode);
        Assert.Contains($"the server sends a file of 18 bytes, and the catalogue pins {_model.Length}: not the pinned file", pull.Stderr);
        Assert.DoesNotContain("retrying", pull.Stderr);
        Assert.Single(_server.Requests);
        Assert.False(Directory.Exists(Installed));
    }

    [Fact]
    public void No_route_to_the_server_fails_within_seconds_naming_the_command_for_a_login_node()
    {
        // Port 1 on the loopback: nothing listens, the connection is refused, as on a node whose network is cut off.
        var clock = Stopwatch.StartNew();
        var run = Classify(Env("http://127.0.0.1:1", attempts: 2), "--model", Name, TestData.Chelsea);
        Assert.Equal(16, run.ExitCode);
        Assert.Contains("Connection refused", run.Stderr);
        Assert.Contains($"run 'classify models pull {Name}' on a login node", run.Stderr);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 15);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void Verify_finds_a_damaged_file_and_rm_removes_downloads_only()
    {
        Assert.Equal(0, Classify(Env(), "models", "pull", Name).ExitCode);
        var file = Path.Combine(Installed, "squeezenet-mirror.onnx");
        var bytes = File.ReadAllBytes(file);
        bytes[^10] ^= 1;
        File.WriteAllBytes(file, bytes);
        var verify = Classify(Env(), "models", "verify");
        Assert.Equal(11, verify.ExitCode);
        Assert.Contains($"BAD {Name}", verify.Stdout);
        Assert.Contains($"ok  {TestData.SqueezeNet}", verify.Stdout);

        Assert.Equal(0, Classify(Env(), "models", "rm", Alias).ExitCode);
        Assert.False(Directory.Exists(Installed));
        Assert.Equal(10, Classify(Env(), "models", "rm", Name).ExitCode);
        var bundled = Classify(Env(), "models", "rm", TestData.SqueezeNet);
        Assert.Equal(10, bundled.ExitCode);
        Assert.Contains("bundled models cannot be removed", bundled.Stderr);
    }

    [Fact]
    public void Model_dir_adds_folders_to_the_bundled_models()
    {
        var site = Path.Combine(_dir.Path, "site");
        Directory.CreateDirectory(Path.Combine(site, "my-squeezenet"));
        ModelCopy.Into(Path.Combine(site, "my-squeezenet"), TestData.SqueezeNet, m => m["name"] = "my-squeezenet");
        var env = Env();
        env["CLASSIFY_MODEL_DIR"] = site;
        var mine = Classify(env, "--model", "my-squeezenet", TestData.Chelsea);
        var bundled = Classify(env, "--model", TestData.MobileNet, TestData.Chelsea);
        Assert.True(mine.ExitCode == 0, mine.Stderr);
        Assert.True(bundled.ExitCode == 0, bundled.Stderr);
        Assert.Matches("my-squeezenet +local", Classify(env, "models", "list").Stdout);
    }
}
