using System.Text.Json;
using System.Text.RegularExpressions;

namespace Classify.Tests;

/// <summary>The classify verb as a user runs it: a real process on the real photos and bundled models.</summary>
public sealed partial class ClassifyCommandTests
{
    // classify_image.py prints '%s (score = %.5f)' per prediction and nothing else.
    [GeneratedRegex(@"^(?<label>.+) \(score = (?<score>\d\.\d{5})\)$")]
    private static partial Regex PredictionLine();

    [Fact]
    public void Without_an_image_it_classifies_the_bundled_cat_like_classify_image_py()
    {
        var r = ClassifyProcess.Run();

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        Assert.Equal(5, r.StdoutLines.Length);
        Assert.All(r.StdoutLines, l => Assert.Matches(PredictionLine(), l));
        var top = PredictionLine().Match(r.StdoutLines[0]);
        Assert.Equal(TestData.EgyptianCat, top.Groups["label"].Value);
        Assert.InRange(double.Parse(top.Groups["score"].Value, System.Globalization.CultureInfo.InvariantCulture), 0.70, 0.85); // the default model's 0.75903
    }

    [Fact]
    public void Num_top_predictions_sets_the_number_of_lines()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--num_top_predictions", "3");

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(3, r.StdoutLines.Length);
    }

    [Fact]
    public void Scores_are_in_descending_order_and_sum_to_at_most_one()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Rocket, "--num_top_predictions", "10");

        var scores = r.StdoutLines.Select(l => double.Parse(PredictionLine().Match(l).Groups["score"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(10, scores.Length);
        Assert.Equal(scores.OrderDescending(), scores);
        Assert.InRange(scores.Sum(), 0, 1.0001);
    }

    [Fact]
    public void The_quantised_MobileNet_is_chosen_by_name()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Coffee, "--model", TestData.MobileNet);

        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith(TestData.Espresso + " (score = 0.9", r.StdoutLines[0]);
    }

    [Fact]
    public void A_model_file_path_with_its_manifest_beside_it_works()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Coffee, "--model", Path.Combine(TestData.ModelFolder(TestData.MobileNet), TestData.MobileNet + ".onnx"));

        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith(TestData.Espresso, r.StdoutLines[0]);
    }

    [Fact]
    public void Several_images_are_each_introduced_by_their_path()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--image_file", TestData.Coffee, "--num_top_predictions", "2", "-m", TestData.SqueezeNet);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(
            [$"==> {TestData.Chelsea} <==", "Egyptian cat", "tabby, tabby cat", $"==> {TestData.Coffee} <==", "espresso", "cup"],
            r.StdoutLines.Select(l => l.StartsWith("==>", StringComparison.Ordinal) ? l : PredictionLine().Match(l).Groups["label"].Value));
    }

    [Fact]
    public void Jsonl_has_one_object_per_image_in_input_order()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Coffee, "--image_file", TestData.Chelsea, "--format", "jsonl", "-m", TestData.SqueezeNet);

        Assert.Equal(0, r.ExitCode);
        var docs = r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, docs.Length);
        Assert.Equal(TestData.Coffee, docs[0].GetProperty("file").GetString());
        Assert.Equal(TestData.Espresso, docs[0].GetProperty("predictions")[0].GetProperty("label").GetString());
        Assert.Equal(TestData.EgyptianCatClass, docs[1].GetProperty("predictions")[0].GetProperty("class").GetInt32());
        Assert.Equal(EgyptianCatSynset, docs[1].GetProperty("predictions")[0].GetProperty("synset").GetString());
        Assert.Equal(5, docs[1].GetProperty("predictions").GetArrayLength());
        foreach (var doc in docs)
        {
            Assert.Equal(TestData.SqueezeNet, doc.GetProperty("model").GetString());
            Assert.Equal(ManifestSha256(TestData.SqueezeNet, "onnx"), doc.GetProperty("model_sha256").GetString());
            Assert.Equal(ResultVersion(), doc.GetProperty("classify_version").GetString());
        }
    }

    [Fact]
    public void Json_is_one_document_with_the_run_and_its_results()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--format", "json", "--num_top_predictions", "3", "-m", TestData.SqueezeNet);

        Assert.Equal(0, r.ExitCode);
        var root = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(TestData.SqueezeNet, root.GetProperty("model").GetString());
        Assert.Equal(ManifestSha256(TestData.SqueezeNet, "onnx"), root.GetProperty("model_sha256").GetString());
        Assert.Equal(ResultVersion(), root.GetProperty("classify_version").GetString());
        Assert.Equal("onnx", root.GetProperty("backend").GetString());
        var result = Assert.Single(root.GetProperty("results").EnumerateArray());
        Assert.Equal(3, result.GetProperty("predictions").GetArrayLength());
        Assert.Equal(TestData.EgyptianCat, result.GetProperty("predictions")[0].GetProperty("label").GetString());
        Assert.Equal(EgyptianCatSynset, result.GetProperty("predictions")[0].GetProperty("synset").GetString());
    }

    [Fact]
    public void The_fp16_file_that_ran_is_the_one_recorded()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--format", "jsonl", "--model", Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), "squeezenet1.1-fp16.onnx"));

        Assert.Equal(0, r.ExitCode);
        Assert.Equal(ManifestSha256(TestData.SqueezeNet, "onnx-fp16"), JsonDocument.Parse(r.Stdout).RootElement.GetProperty("model_sha256").GetString());
    }

    [Fact]
    public async Task Output_to_a_device_or_a_fifo_writes_through_it_and_leaves_it_in_place()
    {
        // Renaming a finished temporary file over /dev/null once turned it into a regular file for the whole machine.
        var r = ClassifyProcess.Run("--image_dir", TestData.Images, "--output", "/dev/null", "--format", "jsonl");
        Assert.Equal(0, r.ExitCode);
        Assert.True(Classify.Output.AtomicFile.IsSpecialFile("/dev/null"), "/dev/null is no longer a device");
        Assert.Empty(Directory.GetFiles("/dev", ".null.*"));
        Assert.False(File.Exists("/dev/null.partial"));

        using var dir = new TempDir();
        var fifo = dir.File("results.jsonl");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])) mkfifo.WaitForExit();
        var reader = Task.Run(() => File.ReadAllText(fifo));
        r = ClassifyProcess.Run("--image_dir", TestData.Images, "--output", fifo);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(4, (await reader).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(["results.jsonl"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
        Assert.True(Classify.Output.AtomicFile.IsSpecialFile(fifo));
    }

    [Fact]
    public void Csv_has_a_header_and_one_quoted_row_per_prediction()
    {
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--format", "csv", "--num_top_predictions", "2", "-m", TestData.SqueezeNet);

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("file,rank,label,class,score,error,error_code,error_kind,synset,model,model_sha256,classify_version", r.StdoutLines[0]);
        var made = $"{TestData.SqueezeNet},{ManifestSha256(TestData.SqueezeNet, "onnx")},{ResultVersion()}";
        Assert.Matches($@"^{Regex.Escape(TestData.Chelsea)},1,Egyptian cat,285,0\.9\d{{5}},,,,{EgyptianCatSynset},{Regex.Escape(made)}$", r.StdoutLines[1]);
        Assert.Matches($@"^{Regex.Escape(TestData.Chelsea)},2,""tabby, tabby cat"",281,0\.0\d{{5}},,,,n02123045,{Regex.Escape(made)}$", r.StdoutLines[2]);
        Assert.Equal(3, r.StdoutLines.Length);
    }

    [Fact]
    public void An_image_dir_is_classified_in_sorted_order_and_recursive_includes_subfolders()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("sub"));
        File.Copy(TestData.Coffee, dir.File("b.png"));
        File.Copy(TestData.Chelsea, dir.File("a.png"));
        File.Copy(TestData.Chelsea, dir.File("sub/c.png"));
        File.WriteAllText(dir.File("notes.txt"), "not an image");

        var flat = ClassifyProcess.Run("--image_dir", dir.Path, "--format", "jsonl");
        var deep = ClassifyProcess.Run("--image_dir", dir.Path, "--recursive", "--format", "jsonl");

        Assert.Equal([dir.File("a.png"), dir.File("b.png")], Files(flat));
        Assert.Equal([dir.File("a.png"), dir.File("b.png"), dir.File("sub/c.png")], Files(deep));
    }

    [Fact]
    public void An_image_list_can_come_from_standard_input()
    {
        var r = ClassifyProcess.Run(["--image_list", "-", "--format", "jsonl"], stdin: $"{TestData.Coffee}\n\n# a comment\n{TestData.Chelsea}\n");

        Assert.Equal(0, r.ExitCode);
        Assert.Equal([TestData.Coffee, TestData.Chelsea], Files(r));
    }

    [Fact]
    public void Output_file_gets_the_results_and_standard_output_stays_empty()
    {
        using var dir = new TempDir();
        var r = ClassifyProcess.Run("--image_file", TestData.Chelsea, "--output", dir.File("out.jsonl"), "--format", "jsonl");

        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Equal(TestData.EgyptianCat, JsonDocument.Parse(File.ReadAllText(dir.File("out.jsonl"))).RootElement.GetProperty("predictions")[0].GetProperty("label").GetString());
        Assert.Equal(["out.jsonl"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Onnx_runtime_telemetry_leaves_nothing_in_the_home_directory()
    {
        using var home = new TempDir();
        // ORT stays silent on its own under CI; without these variables the test sees what a user's run does.
        var env = new Dictionary<string, string?> { ["HOME"] = home.Path, ["XDG_CACHE_HOME"] = null, ["ORT_DISABLE_TELEMETRY"] = null };
        foreach (var ci in (string[])["CI", "GITHUB_ACTIONS", "TF_BUILD", "JENKINS_URL", "GITLAB_CI", "BUILDKITE", "CIRCLECI", "TRAVIS", "TEAMCITY_VERSION", "CODEBUILD_BUILD_ID"])
            env[ci] = null;

        var r = ClassifyProcess.Run(["--image_file", TestData.Chelsea], env: env);

        Assert.Equal(0, r.ExitCode);
        Assert.Empty(Directory.GetFileSystemEntries(home.Path, "*", SearchOption.AllDirectories));
    }

    private const string EgyptianCatSynset = "n02124075";

    /// <summary>The manifest's sha256 of the model's file of <paramref name="format"/>: what results must record.</summary>
    internal static string ManifestSha256(string model, string format)
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestData.ModelFolder(model), "model.json")));
        return manifest.RootElement.GetProperty("files").GetProperty(format).GetProperty("sha256").GetString()!;
    }

    /// <summary>classify_version as --version states it: "classify 1.0.0 (commit 252f5c5eefc9)" is "1.0.0+252f5c5eefc9".</summary>
    internal static string ResultVersion()
    {
        var m = Regex.Match(ClassifyProcess.Run("--version").Stdout, @"^classify (\S+) \(commit ([0-9a-f]+|unknown)\)");
        Assert.True(m.Success, "classify --version: unexpected form");
        return m.Groups[2].Value == "unknown" ? m.Groups[1].Value : $"{m.Groups[1].Value}+{m.Groups[2].Value}";
    }

    private static string[] Files(ProcessResult r) =>
        r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("file").GetString()!).ToArray();
}
