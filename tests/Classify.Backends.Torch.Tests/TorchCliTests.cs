using Classify.Output.Features;
using System.Diagnostics;
using System.Text.Json;

namespace Classify.Tests;

/// <summary>The torch backend through the real <c>classify</c> executable, built beside these tests.</summary>
public sealed class TorchCliTests
{
    private sealed record Result(int ExitCode, string Out, string Err);

    private static Result Classify(IDictionary<string, string>? env, params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "classify"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        // The bundled models and libtorch of this build, whatever the developer's shell exports.
        start.Environment.Remove("CLASSIFY_MODEL_DIR");
        start.Environment.Remove("CLASSIFY_LIBTORCH_DIR");
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("classify did not finish within 3 minutes");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static List<(string File, (string Label, double Score)[] Top)> Predictions(string jsonl) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var o = JsonDocument.Parse(line).RootElement;
            return (o.GetProperty("file").GetString()!, o.GetProperty("predictions").EnumerateArray()
                .Select(p => (p.GetProperty("label").GetString()!, p.GetProperty("score").GetDouble())).ToArray());
        }).ToList();

    [Fact]
    public void Backend_torch_prints_the_top5_of_backend_onnx()
    {
        var onnx = Classify(null, "--backend", "onnx", "--format", "jsonl", "--image_file", TestData.Chelsea, "--image_file", TestData.Coffee);
        var torch = Classify(null, "--backend", "torch", "--format", "jsonl", "--image_file", TestData.Chelsea, "--image_file", TestData.Coffee);

        Assert.Equal((0, ""), (onnx.ExitCode, onnx.Err));
        Assert.Equal((0, ""), (torch.ExitCode, torch.Err));
        var expected = Predictions(onnx.Out);
        var actual = Predictions(torch.Out);
        Assert.Equal(2, expected.Count);
        Assert.Equal(expected.Select(r => (r.File, r.Top.Select(p => p.Label).ToArray())), actual.Select(r => (r.File, r.Top.Select(p => p.Label).ToArray())));
        var maxDiff = expected.Zip(actual).SelectMany(r => r.First.Top.Zip(r.Second.Top, (a, b) => Math.Abs(a.Score - b.Score))).Max();
        Assert.InRange(maxDiff, 0, 1e-4);
    }

    [Theory]
    [InlineData("squeezenet1.1", 512)]
    [InlineData("mobilenet_edgetpu_224_1.0_float", 1280)]
    public void Backend_torch_writes_the_embeddings_of_backend_onnx(string model, int width)
    {
        // The TorchScript twins' forward returns (scores, embedding) (issue 32): the same pool as the ONNX file's output.
        using var dir = new TempDir();
        float[] Embeddings(string backend)
        {
            var output = dir.File($"{backend}.jsonl");
            var run = Classify(null, "--backend", backend, "--model", model, "--features", "--features_dtype", "float32", "-o", output,
                TestData.Chelsea, TestData.Coffee, TestData.Rocket, TestData.Astronaut);
            Assert.True(run.ExitCode == 0, run.Err);
            var npy = FeaturesFile.PathFor(output);
            Assert.Equal(new NpyHeader(FeaturesDtype.Float32, 4, width),
                NpyHeader.Read(npy));
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(npy).AsSpan(128)).ToArray();
        }
        var onnx = Embeddings("onnx");
        var torch = Embeddings("torch");
        // Measured here: 1.1e-5 apart for SqueezeNet (values up to 50), 4.2e-6 for MobileNet-EdgeTPU (up to 4.9).
        Assert.InRange(onnx.Zip(torch).Max(p => Math.Abs(p.First - p.Second)), 0f, 1e-4f);
        Assert.Contains(onnx, v => v > 0);
    }

    [Fact]
    public void A_pt_given_as_the_model_runs_on_torch()
    {
        var pt = Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), "squeezenet1.1.pt");

        var run = Classify(null, "--model", pt, "--image_file", TestData.Chelsea, "--verbose");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("backend torch on cpu", run.Err);
        Assert.StartsWith("Egyptian cat (score = 0.9", run.Out);
    }

    /// <summary>The libtorch-cpu package in the NuGet cache: the same libtorch as the one beside the app, at another path.</summary>
    private static string NuGetLibTorch() => Path.Combine(
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
        "libtorch-cpu-linux-x64", "2.10.0", "runtimes", "linux-x64", "native");

    [Fact]
    public void Another_libtorch_on_LD_LIBRARY_PATH_does_not_abort_a_build_that_carries_one()
    {
        // Two libtorch copies in one process abort it ("Tried to register multiple backend fallbacks", exit 134).
        var run = Classify(new Dictionary<string, string> { ["LD_LIBRARY_PATH"] = NuGetLibTorch() }, "--backend", "torch", "--image_file", TestData.Chelsea);

        Assert.Equal((0, ""), (run.ExitCode, run.Err));
        Assert.StartsWith("Egyptian cat (score = 0.759", run.Out); // the default model's TorchScript twin
    }

    [Fact]
    public void A_libtorch_dir_with_a_build_that_carries_libtorch_is_BackendUnavailable_in_one_line()
    {
        var run = Classify(new Dictionary<string, string> { ["CLASSIFY_LIBTORCH_DIR"] = NuGetLibTorch() }, "--backend", "torch", "--image_file", TestData.Chelsea);

        Assert.Equal(ExitCode.BackendUnavailable, run.ExitCode);
        Assert.Equal("", run.Out);
        var line = Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("carries its own libtorch", line);
    }
}
