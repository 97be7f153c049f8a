using System.Text.Json;

namespace Classify.Tests;

/// <summary>The command line's habits from ripgrep/fd and classify_image.py, on the real binary: paths without a flag,
/// '-' for standard input, a mistyped verb, the output format from the file name, options that do not apply.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public void A_path_without_a_flag_is_classified_not_the_bundled_cat()
    {
        var r = ClassifyProcess.Run(TestData.Coffee, "--num_top_predictions", "1");
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("espresso (score = ", r.Stdout);
        r = ClassifyProcess.Run("--num_top_predictions", "1", "--", TestData.Coffee);
        Assert.StartsWith("espresso (score = ", r.Stdout);
    }

    [Fact]
    public void Paths_files_folders_and_stdin_are_expanded_in_the_order_given()
    {
        var folder = ClassifyProcess.Run("--image_dir", TestData.Images, "--format", "jsonl").StdoutLines.Length;
        var r = ClassifyProcess.Run([TestData.Coffee, TestData.Images, "-", "--format", "jsonl"], stdin: TestData.Chelsea + "\n");
        Assert.Equal(0, r.ExitCode);
        var files = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("file").GetString()).ToList();
        Assert.Equal(2 + folder, files.Count);
        Assert.Equal(TestData.Coffee, files[0]);
        Assert.Equal(TestData.Chelsea, files[^1]);
    }

    [Fact]
    public void A_mistyped_verb_is_a_usage_error_that_names_the_verb()
    {
        var r = ClassifyProcess.Run("doctorr");
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal("classify: 'doctorr' is neither a command (doctor, merge, eval, decode, bench, models) nor an existing file or folder; did you mean 'doctor'? see classify --help", r.Stderr.Trim());
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public void The_output_format_follows_the_file_name_and_a_contradiction_is_refused()
    {
        using var dir = new TempDir();
        var jsonl = dir.File("results.jsonl");
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--output", jsonl);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(TestData.EgyptianCat, JsonDocument.Parse(File.ReadAllText(jsonl)).RootElement.GetProperty("predictions")[0].GetProperty("label").GetString());

        r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--output", dir.File("results.csv"), "--format", "jsonl");
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Contains("--format jsonl contradicts --output", r.Stderr);
        Assert.False(File.Exists(dir.File("results.csv")));
    }

    [Fact]
    public void Output_dash_is_standard_output_not_a_file_named_dash()
    {
        using var dir = new TempDir();
        var r = ClassifyProcess.Run(["--image_file", TestData.Chelsea, "--output", "-", "--num_top_predictions", "1"], workingDirectory: dir.Path);
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("Egyptian cat (score = ", r.Stdout);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData("--fp16")]
    [InlineData("--channels_last")]
    public void Cuda_options_on_a_run_that_lands_on_the_cpu_stop_it_not_ignored(string option)
    {
        // This machine has no GPU: --device auto runs on the CPU, where ONNX Runtime's fp16 file or NHWC would not be
        // what was asked for (TorchSharp says the same, TorchCliTests).
        var r = ClassifyProcess.Run(option, TestData.Chelsea);
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal("classify: --fp16 and --channels_last apply to CUDA only, and this run is on the CPU (no usable GPU, or --device cpu)", r.Stderr.Trim());
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public void Fp16_on_onnx_runtime_needs_the_models_fp16_file()
    {
        var none = ClassifyProcess.Run("--fp16", "--model", TestData.MobileNet, TestData.Chelsea);
        Assert.Equal(ExitCode.ModelNotFound, none.ExitCode);
        Assert.Contains($"model '{TestData.MobileNet}' has no onnx-fp16 file, which --fp16 runs on ONNX Runtime (it has: onnx)", none.Stderr);

        var float32 = ClassifyProcess.Run("--fp16", "--model", Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), "squeezenet1.1.onnx"), TestData.Chelsea);
        Assert.Equal(ExitCode.Usage, float32.ExitCode);
        Assert.Equal("classify: --fp16 runs the model's onnx-fp16 file, and --model names its onnx file: give the model's name or its fp16 file", float32.Stderr.Trim());
    }

    [Fact]
    public void The_fp16_squeezenet_named_by_path_runs_on_the_cpu_with_the_top_5_of_float32()
    {
        // On the CPU ONNX Runtime computes the float16 graph through casts to float32; the weights were float16 to
        // begin with, so the scores agree (measured: to the sixth decimal on the test photos).
        var photos = new[] { TestData.Chelsea, TestData.Coffee, TestData.Astronaut, TestData.Rocket };
        var fp16 = ClassifyProcess.Run([.. photos, "--model", Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), "squeezenet1.1-fp16.onnx"), "-f", "jsonl", "--verbose"]);
        var fp32 = ClassifyProcess.Run([.. photos, "--model", TestData.SqueezeNet, "-f", "jsonl"]);
        Assert.True(fp16.ExitCode == 0, fp16.Stderr);
        Assert.Contains("squeezenet1.1-fp16.onnx), backend onnx on cpu", fp16.Stderr);
        Assert.Equal(4, fp16.StdoutLines.Length);
        foreach (var (half, full) in fp16.StdoutLines.Zip(fp32.StdoutLines))
        {
            var h = System.Text.Json.JsonDocument.Parse(half).RootElement.GetProperty("predictions").EnumerateArray().ToList();
            var f = System.Text.Json.JsonDocument.Parse(full).RootElement.GetProperty("predictions").EnumerateArray().ToList();
            Assert.Equal(f.Select(p => p.GetProperty("class").GetInt32()), h.Select(p => p.GetProperty("class").GetInt32()));
            foreach (var (a, b) in h.Zip(f))
                Assert.Equal(b.GetProperty("score").GetDouble(), a.GetProperty("score").GetDouble(), 1e-3);
        }
    }

    [Theory]
    [InlineData("--fp16", "--fp16")]
    [InlineData("--channels_last", "--channels_last")]
    [InlineData("--gpu=1", "--gpu 1")]
    public void Cuda_options_with_device_cpu_are_refused(string option, string named)
    {
        var r = ClassifyProcess.Run(option, "--device", "cpu", "--backend", "torch", TestData.Chelsea);
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal($"classify: {named} applies to CUDA only and contradicts --device cpu; see classify --help", r.Stderr.Trim());
    }

    [Fact]
    public void Negative_threads_are_refused()
    {
        var r = ClassifyProcess.Run("--threads", "-3", TestData.Chelsea);
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal("classify: --threads must be 0 (all cores) or more", r.Stderr.Trim());
    }

    [Fact]
    public void Help_and_version_go_to_standard_output_with_a_usage_line()
    {
        foreach (var flag in new[] { "--help", "-h" })
        {
            var r = ClassifyProcess.Run(flag);
            Assert.Equal(0, r.ExitCode);
            Assert.Empty(r.Stderr);
            Assert.Contains("Usage: classify [PATH|-]... [options]", r.Stdout);
            Assert.Contains("--image_file", r.Stdout);
            Assert.Contains("Exit codes: 0 ok, 2 usage", r.Stdout);
            // Grouped, in this order, with each default as it is typed.
            var groups = new[] { "Inputs:", "Model:", "Output:", "Device:", "Performance:", "Cluster:" }.Select(g => r.Stdout.IndexOf("\n" + g + "\n", StringComparison.Ordinal)).ToList();
            Assert.DoesNotContain(-1, groups);
            Assert.Equal(groups.Order(), groups);
            Assert.Matches(@"\n      --device auto\|cuda\|cpu +auto \(CUDA when usable, else CPU\), cuda or cpu\. \(default: auto\)\n", r.Stdout);
            Assert.Matches(@"\n  -n, --num_top_predictions N\n +Display this many predictions\. \(default: 5\)\n", r.Stdout);
            Assert.DoesNotContain("Auto", r.Stdout);
        }
        var merge = ClassifyProcess.Run("merge", "--help");
        Assert.Equal(0, merge.ExitCode);
        Assert.Contains("Usage: classify merge --output FILE SHARD.jsonl...", merge.Stdout);
        Assert.Matches(@"Default: from --output.s extension \(\.jsonl, \.json, \.csv, \.txt,\s+\.parquet\), else\s+jsonl\.", merge.Stdout);
        foreach (var flag in new[] { "--version", "-V" })
        {
            var r = ClassifyProcess.Run(flag);
            Assert.Equal(0, r.ExitCode);
            Assert.Matches(@"^classify \d+\.\d+\.\d+ \(commit [0-9a-f]+\); ONNX Runtime 1\.\d+\.\d+ \(GPU package, built for CUDA 13 and cuDNN 9\)\n$", r.Stdout);
        }
    }

    [Theory]
    [InlineData("--image-fil", "classify: unknown option --image-fil (did you mean --image_file?); see classify --help")]
    [InlineData("--top", "classify: unknown option --top (did you mean --num_top_predictions?); see classify --help")]
    [InlineData("-i", "classify: unknown option -i (did you mean --image_file?); see classify --help")]
    public void A_misspelled_option_is_one_line_with_the_closest_option(string option, string message)
    {
        var r = ClassifyProcess.Run(option, "3");
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal(message, r.Stderr.Trim());
        Assert.Empty(r.Stdout);
    }

    [Fact]
    public void A_bad_value_names_the_valid_ones()
    {
        var r = ClassifyProcess.Run("--format", "xml", TestData.Chelsea);
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal("classify: --format must be text, json, jsonl, csv, parquet; see classify --help", r.Stderr.Trim());
        r = ClassifyProcess.Run("merge");
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal("classify: a file argument is missing; see classify merge --help", r.Stderr.Trim());
    }

    [Fact]
    public void Options_work_in_both_spellings_and_the_common_ones_have_short_forms()
    {
        var r = ClassifyProcess.Run("--image-file", TestData.Coffee, "-n", "1", "-f", "jsonl", "--batch-size", "2");
        Assert.Equal(0, r.ExitCode);
        var line = Assert.Single(r.StdoutLines);
        var predictions = JsonDocument.Parse(line).RootElement.GetProperty("predictions");
        Assert.Equal(1, predictions.GetArrayLength());
        Assert.Equal(TestData.Espresso, predictions[0].GetProperty("label").GetString());
        // --require-gpu is declared with a hyphen: the underscore spelling reaches it too (exit 0 on a GPU node,
        // 20 without one; never the usage error of an unknown option).
        r = ClassifyProcess.Run("--require_gpu", TestData.Coffee);
        Assert.Contains(r.ExitCode, new[] { ExitCode.Success, ExitCode.GpuUnavailable });
        Assert.DoesNotContain("unknown option", r.Stderr);
    }

    [Fact]
    public void The_terminal_is_left_as_it_was_found()
    {
        // On a pseudo-terminal (script(1)) with an xterm description, whose keypad_xmit is ESC[?1h ESC=: .NET's console
        // sent it on first use and never reset it, leaving the shell's arrow keys in application mode.
        Assert.True(new[] { "/lib/terminfo/x/xterm", "/usr/share/terminfo/x/xterm" }.Any(File.Exists), "no xterm terminfo entry (ncurses-base)");
        foreach (var args in new[] { $"-n 1 {TestData.Chelsea}", "merge -o /nonexistent/x.jsonl /nonexistent.jsonl", "--version" })
        {
            var (_, output) = ClassifyProcess.RunOnTerminal(args);
            Assert.Contains(args.StartsWith("-n", StringComparison.Ordinal) ? "Egyptian cat (score = " : "classify", output);
            Assert.DoesNotContain("\u001b", output);
        }
    }

    [Fact]
    public void Paths_on_standard_input_without_a_dash_are_a_usage_error_not_the_bundled_cat()
    {
        using var dir = new TempDir();
        var list = dir.File("todo.txt");
        File.WriteAllText(list, TestData.Coffee + "\n");
        var expected = "classify: standard input holds data but no image was named: to classify the image paths on it, add '-' (ls *.png | classify -); see classify --help\n";
        // A pipe that already holds the paths, and a file as standard input (the shell makes both before classify starts).
        foreach (var command in new[] { $"printf '%s\\n' '{TestData.Coffee}' | '{ClassifyProcess.Executable}'", $"'{ClassifyProcess.Executable}' < '{list}'" })
        {
            var r = Shell(command);
            Assert.Equal((ExitCode.Usage, "", expected), (r.ExitCode, r.Stdout, r.Stderr));
        }
        // With '-' the paths are read; an empty or idle standard input (ssh, mpirun, /dev/null) still means the cat.
        Assert.StartsWith("espresso (score = ", Shell($"'{ClassifyProcess.Executable}' - -n 1 < '{list}'").Stdout);
        foreach (var command in new[] { $"true | '{ClassifyProcess.Executable}' -n 1", $"'{ClassifyProcess.Executable}' -n 1 < /dev/null", $"sleep 2 | '{ClassifyProcess.Executable}' -n 1" })
        {
            var r = Shell(command);
            Assert.True(r.Stdout.StartsWith("Egyptian cat (score = ", StringComparison.Ordinal), $"{command}: exit {r.ExitCode}, stdout '{r.Stdout}', stderr '{r.Stderr}'");
        }
    }

    private static ProcessResult Shell(string command)
    {
        var start = new System.Diagnostics.ProcessStartInfo("bash", ["-c", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = System.Diagnostics.Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000));
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void An_options_value_may_start_with_a_dash_as_with_getopt()
    {
        // `--image_file -x.png` and `--image_file --help.png` name files; they were read as options (exit 2, the help).
        using var dir = new TempDir();
        File.Copy(TestData.Chelsea, dir.File("-leading-dash.png"));
        File.Copy(TestData.Coffee, dir.File("--help.png"));

        var r = ClassifyProcess.Run(["--image_file", "-leading-dash.png", "--image_file", "--help.png", "-o", "-results.csv"], workingDirectory: dir.Path);

        Assert.True(r.ExitCode == 0, r.Stderr);
        var csv = File.ReadAllLines(dir.File("-results.csv"));
        Assert.StartsWith("-leading-dash.png,1,Egyptian cat,", csv[1]);
        Assert.Contains(csv, l => l.StartsWith("--help.png,1,espresso,", StringComparison.Ordinal));
    }
}
