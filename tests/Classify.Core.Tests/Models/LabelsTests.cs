using Classify.Models;

namespace Classify.Tests.Models;

public sealed class LabelsTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void SqueezeNet_labels_start_at_output_0()
    {
        var labels = Labels.Load(new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _));

        Assert.Equal(1000, labels.Names.Count);
        Assert.Equal(0, labels.FirstClassOutput);
        Assert.Equal(TestData.EgyptianCat, labels.Names[TestData.EgyptianCatClass]);
    }

    [Fact]
    public void MobileNet_labels_skip_the_background_output()
    {
        var labels = Labels.Load(new ModelCatalog(TestData.Models).Resolve(TestData.MobileNet, out _));

        Assert.Equal(1000, labels.Names.Count);
        Assert.Equal(1, labels.FirstClassOutput);
        Assert.Equal(TestData.EgyptianCat, labels.Names[TestData.EgyptianCatClass]);
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void Every_bundled_ImageNet_model_has_the_synset_of_each_label(string model)
    {
        var labels = Labels.Load(new ModelCatalog(TestData.Models).Resolve(model, out _));

        Assert.Equal(1000, labels.Synsets!.Count);
        Assert.Equal("n01440764", labels.Synsets[0]);
        Assert.Equal("n02124075", labels.Synsets[TestData.EgyptianCatClass]);
        Assert.Equal("n15075141", labels.Synsets[999]);
    }

    [Fact]
    public void The_synsets_file_describes_the_labels_line_for_line()
    {
        // synset.txt's words after the id are the label text: the files are in the same order.
        var synsets = File.ReadAllLines(Path.Combine(TestData.Models, "labels", "synset.txt"));
        var names = File.ReadAllLines(Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt"));

        Assert.Equal(names, synsets.Select(l => l[(l.IndexOf(' ', StringComparison.Ordinal) + 1)..]));
    }

    [Fact]
    public void A_synsets_file_with_a_line_missing_is_LabelsMismatch_naming_it()
    {
        var synsetsPath = _dir.File("synset.txt");
        File.WriteAllLines(synsetsPath, File.ReadAllLines(Path.Combine(TestData.Models, "labels", "synset.txt")).Where((_, i) => i != 500));
        var manifest = ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.SqueezeNet, m =>
        {
            m["labels"]!["synsets"] = "synset.txt";
            m["labels"]!.AsObject().Remove("synsetsSha256");
        }));

        var e = Assert.Throws<ClassifyException>(() => Labels.Load(manifest));

        Assert.Equal((ExitCode.LabelsMismatch, synsetsPath), (e.ExitCode, e.File));
        Assert.Contains("has 999 synset ids but", e.Message);
    }

    [Fact]
    public void A_changed_synsets_file_fails_its_checksum_and_a_missing_one_is_ModelNotFound()
    {
        var synsetsPath = _dir.File("synset.txt");
        var lines = File.ReadAllLines(Path.Combine(TestData.Models, "labels", "synset.txt"));
        lines[0] = "n00000000 tench, Tinca tinca";
        File.WriteAllLines(synsetsPath, lines);
        var changed = ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.SqueezeNet, m => m["labels"]!["synsets"] = "synset.txt"));
        Assert.Equal((ExitCode.ModelCorrupt, synsetsPath), Catch(changed));

        File.Delete(synsetsPath);
        Assert.Equal((ExitCode.ModelNotFound, synsetsPath), Catch(changed));
    }

    [Fact]
    public void A_model_without_synsets_has_none()
    {
        var manifest = ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.SqueezeNet, m => m["labels"]!.AsObject().Remove("synsets")));

        Assert.Null(Labels.Load(manifest).Synsets);
    }

    private static (int, string?) Catch(ModelManifest manifest)
    {
        var e = Assert.Throws<ClassifyException>(() => Labels.Load(manifest));
        return (e.ExitCode, e.File);
    }

    [Fact]
    public void Labels_count_not_matching_the_outputs_is_LabelsMismatch()
    {
        var labelsPath = _dir.File("labels.txt");
        File.WriteAllLines(labelsPath, File.ReadAllLines(Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt"))[..999]);
        var manifest = ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.SqueezeNet, m =>
        {
            m["labels"]!["path"] = "labels.txt";
            m["labels"]!.AsObject().Remove("sha256");
        }));

        var e = Assert.Throws<ClassifyException>(() => Labels.Load(manifest));

        Assert.Equal(ExitCode.LabelsMismatch, e.ExitCode);
        Assert.Equal(labelsPath, e.File);
        Assert.Contains("999", e.Message);
        Assert.Contains("1000", e.Message);
    }

    [Fact]
    public void Labels_without_the_background_offset_are_LabelsMismatch()
    {
        // MobileNet has 1001 outputs; 1000 labels only fit when the manifest says output 0 is not a class.
        var manifest = ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.MobileNet, m => m["labels"]!["firstClassOutput"] = 0));

        Assert.Equal(ExitCode.LabelsMismatch, Assert.Throws<ClassifyException>(() => Labels.Load(manifest)).ExitCode);
    }

    [Fact]
    public void Changed_labels_file_fails_its_checksum()
    {
        var labelsPath = _dir.File("labels.txt");
        var lines = File.ReadAllLines(Path.Combine(TestData.Models, "labels", "imagenet_labels_1000.txt"));
        lines[0] = "not a tench";
        File.WriteAllLines(labelsPath, lines);
        var manifest = ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.SqueezeNet, m => m["labels"]!["path"] = "labels.txt"));

        var e = Assert.Throws<ClassifyException>(() => Labels.Load(manifest));

        Assert.Equal(ExitCode.ModelCorrupt, e.ExitCode);
        Assert.Equal(labelsPath, e.File);
    }

    [Fact]
    public void Missing_labels_file_is_ModelNotFound()
    {
        var manifest = ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.SqueezeNet, m => m["labels"]!["path"] = "nope.txt"));

        Assert.Equal(ExitCode.ModelNotFound, Assert.Throws<ClassifyException>(() => Labels.Load(manifest)).ExitCode);
    }
}
