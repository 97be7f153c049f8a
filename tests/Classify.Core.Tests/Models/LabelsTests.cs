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
