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
        // The copy's labels path is relative to the model folder; point it at the bundled labels.
        var manifest = File.ReadAllText(Path.Combine(dir.Path, "model.json"));
        File.WriteAllText(Path.Combine(dir.Path, "model.json"), ReplaceLabels(manifest, Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt")));
        return dir;
    }

    private static string ReplaceLabels(string manifestJson, string labelsPath)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(manifestJson)!;
        node["labels"]!["path"] = labelsPath;
        node["labels"]!.AsObject().Remove("sha256");
        return node.ToJsonString();
    }
}
