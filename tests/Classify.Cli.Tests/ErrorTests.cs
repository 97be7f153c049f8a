using System.Text.Json;

namespace Classify.Tests;

/// <summary>Every bad input: one line on stderr naming the file and the problem, its own exit code, no stack trace,
/// and in a batch the other images keep their results.</summary>
public sealed class ErrorTests
{
    private static void AssertOneLineError(ProcessResult r, int exitCode, string file, string problem)
    {
        Assert.Equal(exitCode, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("classify: ", line);
        Assert.Contains(file, line);
        Assert.Contains(problem, line);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.DoesNotContain("Exception", r.Stderr);
    }

    [Fact]
    public void A_missing_image_is_not_found()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-photo.jpg");
        AssertOneLineError(ClassifyProcess.Run("--image_file", missing), 3, missing, "no such file");
    }

    [Fact]
    public void A_directory_given_as_an_image_says_so()
    {
        AssertOneLineError(ClassifyProcess.Run("--image_file", TestData.Images), 3, TestData.Images, "is a directory");
    }

    [Fact]
    public void A_text_file_is_not_an_image()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("cat.jpg"), "this is not a JPEG");
        AssertOneLineError(ClassifyProcess.Run("--image_file", dir.File("cat.jpg")), 4, dir.File("cat.jpg"), "not an image");
    }

    [Fact]
    public void A_truncated_photo_is_corrupt()
    {
        using var dir = new TempDir();
        var bytes = File.ReadAllBytes(TestData.Rocket);
        File.WriteAllBytes(dir.File("half.jpg"), bytes[..(bytes.Length / 2)]);
        AssertOneLineError(ClassifyProcess.Run("--image_file", dir.File("half.jpg")), 5, dir.File("half.jpg"), "truncated");
    }

    [Fact]
    public void A_tiff_is_an_unsupported_format()
    {
        using var dir = new TempDir();
        // A little-endian TIFF header: ImageSharp could read it, but its TIFF decoder is left out on purpose.
        File.WriteAllBytes(dir.File("scan.tif"), [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]);
        AssertOneLineError(ClassifyProcess.Run("--image_file", dir.File("scan.tif")), 4, dir.File("scan.tif"), "supported format");
    }

    [Fact]
    public void An_unknown_model_lists_the_available_ones()
    {
        var r = ClassifyProcess.Run("--model", "resnet9000");
        Assert.Equal(10, r.ExitCode);
        Assert.Contains("unknown model 'resnet9000'", r.Stderr);
        Assert.Contains(TestData.SqueezeNet, r.Stderr);
    }

    [Fact]
    public void A_corrupt_model_fails_its_checksum()
    {
        using var dir = CopyOfModel(TestData.SqueezeNet);
        var model = dir.File("squeezenet1.1.onnx");
        var bytes = File.ReadAllBytes(model);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(model, bytes);

        AssertOneLineError(ClassifyProcess.Run("--model", dir.Path, "--image_file", TestData.Chelsea), 11, model, "checksum mismatch");
    }

    [Fact]
    public void Labels_that_do_not_match_the_model_outputs_are_refused()
    {
        using var dir = CopyOfModel(TestData.SqueezeNet);
        var labels = dir.File("labels.txt");
        File.WriteAllLines(labels, File.ReadAllLines(Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt"))[..999]);
        var manifest = File.ReadAllText(dir.File("model.json"));
        File.WriteAllText(dir.File("model.json"), ReplaceLabels(manifest, "labels.txt"));

        AssertOneLineError(ClassifyProcess.Run("--model", dir.Path, "--image_file", TestData.Chelsea), 13, labels, "has 999 labels");
    }

    [Fact]
    public void An_unknown_flag_is_a_usage_error()
    {
        var r = ClassifyProcess.Run("--image_fiel", TestData.Chelsea);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("image_fiel", r.Stderr);
    }

    [Fact]
    public void One_broken_image_in_a_batch_keeps_the_others_and_exits_7()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("broken.png"), "not a png");
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--image_file", dir.File("broken.png"), "--image_file", TestData.Coffee, "--format", "jsonl");

        Assert.Equal(7, r.ExitCode);
        var lines = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(3, lines.Length);
        Assert.Equal(TestData.EgyptianCat, lines[0].GetProperty("predictions")[0].GetProperty("label").GetString());
        Assert.Equal("ImageUnsupported", lines[1].GetProperty("error").GetProperty("kind").GetString());
        Assert.Equal(TestData.Espresso, lines[2].GetProperty("predictions")[0].GetProperty("label").GetString());
        var err = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(dir.File("broken.png"), err);
    }

    [Fact]
    public void An_output_in_a_missing_folder_fails_before_any_work_and_leaves_nothing()
    {
        using var dir = new TempDir();
        var output = dir.File("missing/out.json");
        AssertOneLineError(ClassifyProcess.Run("--image_file", TestData.Chelsea, "--output", output), 14, output, "folder does not exist");
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    private static TempDir CopyOfModel(string name)
    {
        var dir = new TempDir();
        foreach (var f in Directory.GetFiles(TestData.ModelFolder(name)))
            File.Copy(f, Path.Combine(dir.Path, Path.GetFileName(f)));
        // The copy's labels and synsets paths are relative to the model folder; point them at the bundled files.
        var manifest = File.ReadAllText(Path.Combine(dir.Path, "model.json"));
        File.WriteAllText(Path.Combine(dir.Path, "model.json"), ReplaceLabels(manifest, Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt")));
        return dir;
    }

    private static string ReplaceLabels(string manifestJson, string labelsPath)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(manifestJson)!;
        node["labels"]!["path"] = labelsPath;
        node["labels"]!.AsObject().Remove("sha256");
        if (node["labels"]!["synsets"] is not null)
            node["labels"]!["synsets"] = Path.Combine(TestData.Models, "labels", "synset.txt");
        return node.ToJsonString();
    }
}

/// <summary>The bounds of issue 10 on the real binary: a file-size limit applied before reading, a per-image decode
/// timeout, non-regular files refused without blocking.</summary>
public sealed class BoundedInputTests
{
    [Fact]
    public void A_file_over_max_file_size_is_refused_unread_and_the_batch_goes_on()
    {
        // 1 MiB is the smallest limit: a PNG padded to one byte over it.
        using var dir = new TempDir();
        var big = dir.File("big.png");
        var bytes = File.ReadAllBytes(TestData.Chelsea);
        File.WriteAllBytes(big, [.. bytes, .. new byte[(1 << 20) + 1 - bytes.Length]]);
        var r = ClassifyProcess.Run("--image_file", big, "--image_file", TestData.Chelsea, "--max_file_size", "1", "--format", "jsonl");
        Assert.Equal(ExitCode.SomeImagesFailed, r.ExitCode);
        Assert.Contains("over the limit of 1 MiB (--max_file_size)", r.Stderr);
        Assert.Equal(2, r.StdoutLines.Length);
        Assert.Contains("\"code\":6", r.StdoutLines[0]);
        Assert.Contains(TestData.EgyptianCat, r.StdoutLines[1]);
    }

    [Fact]
    public void A_FIFO_is_refused_at_once_instead_of_waiting_for_a_writer()
    {
        using var dir = new TempDir();
        var fifo = dir.File("photo.jpg");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo)) mkfifo.WaitForExit();
        var r = ClassifyProcess.Run(["--image_file", fifo], timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(ExitCode.ImageUnsupported, r.ExitCode);
        Assert.Equal($"classify: {fifo}: not an image file: a FIFO (named pipe)", r.Stderr.Trim());
    }

    [Fact]
    public void A_decode_over_decode_timeout_is_stopped_with_exit_9()
    {
        // A 6000x6000 PNG (ImageSharp decodes PNG; libjpeg-turbo, which JPEG goes to, cannot be stopped) takes far
        // longer than 1 ms to check and decode on any machine.
        using var dir = new TempDir();
        var big = dir.File("big.png");
        var make = System.Diagnostics.Process.Start("/usr/bin/python3", ["-c",
            $"from PIL import Image; Image.open('{TestData.Chelsea}').convert('RGB').resize((6000, 6000)).save('{big}')"]);
        make.WaitForExit();
        Assert.Equal(0, make.ExitCode);
        var r = ClassifyProcess.Run("--image_file", big, "--decode_timeout", "0.001");
        Assert.Equal(ExitCode.ImageTimeout, r.ExitCode);
        Assert.Equal($"classify: {big}: decoding PNG took over 0.001 s (--decode_timeout)", r.Stderr.Trim());
    }

    [Fact]
    public void The_temporary_file_of_a_killed_run_is_removed_by_the_next_run()
    {
        using var dir = new TempDir();
        var output = dir.File("results.jsonl");
        // What a SIGKILLed run leaves: its temporary output, named with this host and a process id that is gone.
        var stale = dir.File($".results.jsonl.{Environment.MachineName}.999999999.{Guid.NewGuid():N}.tmp");
        var otherHost = dir.File($".results.jsonl.other-node.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(stale, "{\"file\":");
        File.WriteAllText(otherHost, "{\"file\":");
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--output", output, "--format", "jsonl");
        Assert.Equal(0, r.ExitCode);
        Assert.False(File.Exists(stale), "the dead run's temporary file is still there");
        Assert.True(File.Exists(otherHost), "another host's temporary file must be left alone");
        Assert.Equal([Path.GetFileName(otherHost), "results.jsonl"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }
}
