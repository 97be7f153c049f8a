using System.Text.Json.Nodes;

namespace Classify.Tests;

/// <summary>
/// `classify eval` through the binary (issue 31), on the repository's labelled photos: three copies of the cat
/// (Egyptian cat, n02124075) in the cat's class and, in espresso's (n07920052), two copies of the coffee and one of the
/// cat, which SqueezeNet 1.1 calls Egyptian cat (0.920382) and not espresso (the coffee: 0.999875). By hand: top-1 and
/// top-5 5/6; Wilson 95% interval [0.43650, 0.96995]; the cat's class 3/3, espresso's 2/3; one confusion espresso ->
/// Egyptian cat; every top-1 score in the 0.9-1.0 bin, whose accuracy is 5/6 and mean score (4 x 0.920382 + 2 x
/// 0.999875) / 6 = 0.946880, so the expected calibration error is 0.946880 - 0.833333 = 0.113546.
/// </summary>
public sealed class EvalCommandTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Dataset(string cat = "n02124075", string espresso = "n07920052")
    {
        var root = Path.Combine(_dir.Path, $"data-{cat}-{espresso}");
        Directory.CreateDirectory(Path.Combine(root, cat));
        Directory.CreateDirectory(Path.Combine(root, espresso, "nested"));
        for (var i = 0; i < 3; i++) File.Copy(TestData.Chelsea, Path.Combine(root, cat, $"cat{i}.png"));
        File.Copy(TestData.Coffee, Path.Combine(root, espresso, "coffee0.png"));
        File.Copy(TestData.Coffee, Path.Combine(root, espresso, "nested", "coffee1.png"));
        File.Copy(TestData.Chelsea, Path.Combine(root, espresso, "not-coffee.png"));
        return root;
    }

    private static void AssertHandComputed(JsonNode r)
    {
        Assert.Equal(6, (int)r["images"]!);
        Assert.Equal(2, (int)r["classes"]!);
        Assert.Equal(5, (int)r["top1"]!["correct"]!);
        Assert.Equal(0.43650, (double)r["top1"]!["ci95"]![0]!, 5);
        Assert.Equal(0.96995, (double)r["top1"]!["ci95"]![1]!, 5);
        Assert.Equal(5, (int)r["top5"]!["correct"]!);
        Assert.Equal(0.113546, (double)r["calibration"]!["ece"]!, 5);
        var bin = r["calibration"]!["bins"]![9]!;
        Assert.Equal((6, 0.946880), ((int)bin["images"]!, Math.Round((double)bin["mean_score"]!, 6)));
        var perClass = r["per_class"]!.AsArray();
        Assert.Equal(("n07920052", 3, 2), ((string)perClass[0]!["synset"]!, (int)perClass[0]!["images"]!, (int)perClass[0]!["top1"]!));
        Assert.Equal(("n02124075", 3, 3), ((string)perClass[1]!["synset"]!, (int)perClass[1]!["images"]!, (int)perClass[1]!["top1"]!));
        var confused = Assert.Single(r["confused"]!.AsArray())!;
        Assert.Equal(("espresso", TestData.EgyptianCat, 1), ((string)confused["true"]!["label"]!, (string)confused["predicted"]!["label"]!, (int)confused["images"]!));
    }

    [Theory]
    [InlineData("n02124075", "n07920052")]
    [InlineData("Egyptian_cat", "espresso")]
    public void Class_folders_named_by_wordnet_id_or_by_label_give_the_hand_computed_report(string cat, string espresso)
    {
        var r = ClassifyProcess.Run("eval", Dataset(cat, espresso), "--model", TestData.SqueezeNet, "--json");
        Assert.Equal(0, r.ExitCode);
        AssertHandComputed(JsonNode.Parse(r.Stdout)!);
    }

    [Fact]
    public void The_table_says_the_same()
    {
        var r = ClassifyProcess.Run("eval", Dataset(), "-m", TestData.SqueezeNet, "--quiet");
        Assert.Equal((0, ""), (r.ExitCode, r.Stderr));
        Assert.Contains("classify eval: 6 labelled image(s) of 2 class(es), model squeezenet1.1\n", r.Stdout);
        Assert.Contains("  top-1   83.3%  5/6  95% CI 43.6%-97.0%\n", r.Stdout);
        Assert.Contains("expected calibration error 0.114", r.Stdout);
        Assert.Contains("       1  espresso (n07920052) -> Egyptian cat (n02124075)\n", r.Stdout);
        Assert.Contains("       3   66.7%   66.7%  espresso (n07920052)\n", r.Stdout);
    }

    [Fact]
    public void Results_in_every_format_and_a_sharded_runs_merge_give_the_same_report()
    {
        var data = Dataset();
        var direct = ClassifyProcess.Run("eval", data, "-m", TestData.SqueezeNet, "--json", "--output", _dir.File("kept.jsonl"));
        Assert.Equal(0, direct.ExitCode);
        var truth = _dir.File("truth.csv");
        File.WriteAllLines(truth, ["file,synset", .. Directory.EnumerateFiles(data, "*.png", SearchOption.AllDirectories)
            .Select(f => $"{f},{(Path.GetFileName(Path.GetDirectoryName(f)) is "n02124075" ? "n02124075" : "n07920052")}")]);
        foreach (var format in new[] { "jsonl", "json", "csv", "txt", "parquet" })
        {
            var results = _dir.File("all." + format);
            Assert.Equal(0, ClassifyProcess.Run("-m", TestData.SqueezeNet, "--recursive", data, "-n", "5", "-o", results).ExitCode);
            var r = ClassifyProcess.Run("eval", "--results", results, "--truth", truth, "--json");
            Assert.True(r.ExitCode == 0, format + ": " + r.Stderr);
            AssertHandComputed(JsonNode.Parse(r.Stdout)!);
        }
        var shards = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(0, ClassifyProcess.Run("-m", TestData.SqueezeNet, "--recursive", data, "-n", "5", "--shard", $"{i}/2", "-o", _dir.File($"s.{{shard}}.jsonl")).ExitCode);
        }
        shards.AddRange(Directory.EnumerateFiles(_dir.Path, "s.shard-*.jsonl"));
        Assert.Equal(0, ClassifyProcess.Run(["merge", "-o", _dir.File("merged.jsonl"), .. shards]).ExitCode);
        var merged = ClassifyProcess.Run("eval", "--results", _dir.File("merged.jsonl"), "--truth", truth, "--json");
        Assert.Equal(direct.Stdout, merged.Stdout);
    }

    [Fact]
    public void A_truth_file_of_bare_names_labels_and_class_indices_finds_its_images()
    {
        var data = Dataset();
        var flat = Path.Combine(_dir.Path, "flat");
        Directory.CreateDirectory(flat);
        File.Copy(TestData.Chelsea, Path.Combine(flat, "a.png"));
        File.Copy(TestData.Coffee, Path.Combine(flat, "b.png"));
        File.Copy(TestData.Chelsea, Path.Combine(flat, "c.png"));
        var csv = _dir.File("labels.csv");
        File.WriteAllText(csv, "# ImageNet-style labels\na.png,\"Egyptian cat\"\nb.png,espresso\nc.png,\"tabby, tabby cat\"\n");
        var r = ClassifyProcess.Run("eval", "--truth", csv, flat, "-m", TestData.SqueezeNet, "--json");
        Assert.Equal(0, r.ExitCode);
        var report = JsonNode.Parse(r.Stdout)!;
        Assert.Equal((3, 2, 3), ((int)report["images"]!, (int)report["top1"]!["correct"]!, (int)report["top5"]!["correct"]!));
        var tsv = _dir.File("labels.tsv");
        File.WriteAllText(tsv, "file\tclass\na.png\t285\nb.png\t967\nc.png\t281\n");
        var byIndex = ClassifyProcess.Run("eval", "--truth", tsv, flat, "-m", TestData.SqueezeNet, "--json");
        Assert.Equal(r.Stdout, byIndex.Stdout);
    }

    [Fact]
    public void A_class_the_model_does_not_have_stops_eval_before_any_image_naming_the_closest()
    {
        var data = Dataset("Egyptain_cat", "espresso");
        var r = ClassifyProcess.Run("eval", data, "-m", TestData.SqueezeNet);
        Assert.Equal(ExitCode.EvalDataInvalid, r.ExitCode);
        Assert.Equal($"classify: {Path.Combine(data, "Egyptain_cat")}: 'Egyptain_cat' is no class of the model (did you mean Egyptian cat (n02124075)?): "
            + "name classes by WordNet id (n02124075) or by label (Egyptian cat)\n", r.Stderr);
        Assert.Equal("", r.Stdout);
        var truth = _dir.File("t.csv");
        File.WriteAllText(truth, $"{TestData.Chelsea},crane\n");
        var ambiguous = ClassifyProcess.Run("eval", "--truth", truth, "-m", TestData.SqueezeNet);
        Assert.Equal(ExitCode.EvalDataInvalid, ambiguous.ExitCode);
        Assert.StartsWith($"classify: {truth}:1: 'crane' names 2 classes of the model (crane (n02012849), crane (n03126707)): use the WordNet id", ambiguous.Stderr);
    }

    [Fact]
    public void Failed_unlabelled_and_missing_images_are_counted_and_listed()
    {
        var data = Dataset();
        var broken = Path.Combine(data, "n02124075", "broken.png");
        File.WriteAllBytes(broken, File.ReadAllBytes(TestData.Chelsea)[..200]);
        File.Copy(TestData.Coffee, Path.Combine(data, "loose.png"));
        var r = ClassifyProcess.Run("eval", data, "-m", TestData.SqueezeNet, "--json", "--quiet");
        Assert.Equal(ExitCode.SomeImagesFailed, r.ExitCode);
        var report = JsonNode.Parse(r.Stdout)!;
        Assert.Equal(6, (int)report["images"]!); // the broken one is not scored
        var failed = Assert.Single(report["failed"]!.AsArray())!;
        Assert.Equal((broken, ExitCode.ImageCorrupt), ((string)failed["file"]!, (int)failed["code"]!));
        Assert.Equal([Path.Combine(data, "loose.png")], report["unlabeled"]!.AsArray().Select(n => (string)n!));

        var results = _dir.File("some.jsonl");
        ClassifyProcess.Run("-m", TestData.SqueezeNet, Path.Combine(data, "n02124075", "cat0.png"), "-n", "1", "-o", results);
        var truth = _dir.File("t.csv");
        File.WriteAllText(truth, $"{Path.Combine(data, "n02124075", "cat0.png")},n02124075\n{Path.Combine(data, "n02124075", "cat1.png")},n02124075\n");
        var partial = ClassifyProcess.Run("eval", "--results", results, "--truth", truth);
        Assert.Equal(0, partial.ExitCode);
        Assert.Contains($"labelled, without a result (not evaluated): 1\n  {Path.Combine(data, "n02124075", "cat1.png")}\n", partial.Stdout);
        Assert.Contains("  top-5   n/a (the results hold 1 prediction(s) per image: classify with -n 5)\n", partial.Stdout);
    }
}
