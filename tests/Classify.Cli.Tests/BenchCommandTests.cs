using System.Text.Json;

namespace Classify.Tests;

/// <summary>classify bench on the real model: a row per batch size, the best and the default's share, and the end-to-end
/// run over a folder.</summary>
public sealed class BenchCommandTests
{
    [Fact]
    public void Bench_times_each_batch_size_and_a_folder_end_to_end_as_json()
    {
        var r = ClassifyProcess.Run("bench", "--batch_sizes", "1,8,32", "--seconds", "0.2", "--device", "cpu", "--images", TestData.Images, "--json", "-m", TestData.SqueezeNet);

        Assert.True(r.ExitCode == 0, r.Stderr);
        var root = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(TestData.SqueezeNet, root.GetProperty("model").GetString());
        Assert.Equal("cpu", root.GetProperty("device").GetString());
        var rows = root.GetProperty("model_only").EnumerateArray().ToList();
        Assert.Equal([1, 8, 32], rows.Select(x => x.GetProperty("batch").GetInt32()));
        Assert.All(rows, x => Assert.True(x.GetProperty("images_per_second").GetDouble() > 0));
        var best = rows.MaxBy(x => x.GetProperty("images_per_second").GetDouble())!;
        Assert.Equal(best.GetProperty("batch").GetInt32(), root.GetProperty("best_batch").GetInt32());
        Assert.InRange(root.GetProperty("default_batch_fraction_of_best").GetDouble(), 0.01, 1.0);
        var e2e = root.GetProperty("end_to_end");
        Assert.Equal(4 + 18, e2e.GetProperty("images").GetInt32()); // tests/images, recursively (the 18 EXIF photos)
        Assert.Contains("was the bottleneck", e2e.GetProperty("timings").GetString());
    }

    [Fact]
    public void Bench_times_the_data_path_alone_and_says_how_many_cores_feed_the_model()
    {
        var r = ClassifyProcess.Run("bench", "--batch_sizes", "1", "--seconds", "0.2", "--device", "cpu", "--threads", "2", "--images", TestData.Images, "--json");

        Assert.True(r.ExitCode == 0, r.Stderr);
        var root = JsonDocument.Parse(r.Stdout).RootElement;
        var data = root.GetProperty("data_path");
        Assert.Equal(TestData.Images, data.GetProperty("folder").GetString());
        Assert.Equal(4 + 18, data.GetProperty("images").GetInt32());
        Assert.Equal(0, data.GetProperty("unreadable").GetInt32());
        var runs = data.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal([1, 2], runs.Select(x => x.GetProperty("threads").GetInt32()));
        Assert.All(runs, x =>
        {
            Assert.True(x.GetProperty("images").GetInt32() >= 16 * x.GetProperty("threads").GetInt32()); // 16 images a thread at least
            Assert.InRange(x.GetProperty("cpu_ms_per_image").GetDouble(), 0.01, 10_000);
            Assert.True(x.GetProperty("images_per_second").GetDouble() > 0);
        });
        // ceil(model img/s x the higher CPU ms per image / 1000), at least 1.
        var ms = runs.Max(x => x.GetProperty("cpu_ms_per_image").GetDouble());
        var model = root.GetProperty("model_only")[0].GetProperty("images_per_second").GetDouble();
        Assert.InRange(root.GetProperty("cpus_per_task").GetInt32(), Math.Max(1, (int)Math.Ceiling(model * ms / 1000) - 1), Math.Max(1, (int)Math.Ceiling(model * ms / 1000) + 1));

        // The table: one line for the data path beside the model's rows, one for the cores (no --images: the bundled cat).
        var table = ClassifyProcess.Run("bench", "--batch_sizes", "2", "--seconds", "0.1", "--device", "cpu", "--threads", "1");
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.Matches(@"\ndata path alone \(read, decode, resize, normalise, lay out; no model\), 1 image of .*examples: 1 thread \d+\.\d\d ms CPU/image, \d+\.\d img/s\n", table.Stdout);
        Assert.Matches(@"\ncores to keep the model busy on cpu: [1-9]\d* = ceil\(\d+\.\d img/s x \d+\.\d\d ms / 1000\), the number to put in --cpus-per-task", table.Stdout);
    }

    [Fact]
    public void Bench_prints_a_table_and_refuses_a_bad_batch_size()
    {
        var r = ClassifyProcess.Run("bench", "--batch_sizes", "2", "--seconds", "0.1", "--device", "cpu");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith($"classify bench: model {TestData.DefaultModel}, backend onnx on cpu, ", r.Stdout);
        Assert.Matches(@"\n      2 +\d+\.\d +\d+\.\d\d\n", r.Stdout);
        Assert.Contains("best: batch 2, ", r.Stdout);

        r = ClassifyProcess.Run("bench", "--batch_sizes", "8,x");
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal("classify: --batch_sizes 8,x: 'x' is not a batch size from 1 to 4096", r.Stderr.Trim());
    }

    [Fact]
    public void Bench_takes_the_engine_options_of_classify()
    {
        var cpu = ClassifyProcess.Run("bench", "--device", "cpu", "--fp16", "--seconds", "0.1");
        Assert.Equal(ExitCode.Usage, cpu.ExitCode);
        // The same rule, in the same words, as classify's (ModelPlan).
        Assert.Equal("classify: --fp16 applies to CUDA only and contradicts --device cpu; see classify --help", cpu.Stderr.Trim());

        // No GPU here: the fp16 file loads, then the run that landed on the CPU is stopped, as classify's is.
        var auto = ClassifyProcess.Run("bench", "--fp16", "--seconds", "0.1", "--batch_sizes", "1");
        Assert.Equal(ExitCode.Usage, auto.ExitCode);
        Assert.Contains("--fp16 and --channels_last apply to CUDA only, and this run is on the CPU", auto.Stderr);

        var half = ClassifyProcess.Run("bench", "--model", Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), "squeezenet1.1-fp16.onnx"),
            "--device", "cpu", "--seconds", "0.1", "--batch_sizes", "1,2", "--json");
        Assert.True(half.ExitCode == 0, half.Stderr);
        Assert.Equal(2, System.Text.Json.JsonDocument.Parse(half.Stdout).RootElement.GetProperty("model_only").GetArrayLength());
    }
}
