using System.Text;
using Classify.Models;

namespace Classify.Tests.Models;

/// <summary>Issue 27: model.json is written and read in one place, and what is written reads back as the same manifest.</summary>
public sealed class ManifestWriterTests
{
    public static TheoryData<string> BundledManifests()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.EnumerateDirectories(TestData.Models).Order(StringComparer.Ordinal))
            if (File.Exists(Path.Combine(dir, ModelManifest.FileName)))
                data.Add(Path.GetFileName(dir));
        return data;
    }

    [Theory]
    [MemberData(nameof(BundledManifests))]
    public void Every_bundled_manifest_survives_a_write_and_a_read(string model)
    {
        var read = ModelCatalog.Load(Path.Combine(TestData.Models, model, ModelManifest.FileName));
        var written = ManifestWriter.Write(read);
        var again = ManifestReader.Parse(written);

        Assert.Equal(Encoding.UTF8.GetString(written), Encoding.UTF8.GetString(ManifestWriter.Write(again)));
        Assert.Equal((read.Name, read.Top1, read.Licence), (again.Name, again.Top1, again.Licence));
        Assert.Equal(read.Files.Select(f => (f.Key, f.Value.Path, f.Value.Sha256)), again.Files.Select(f => (f.Key, f.Value.Path, f.Value.Sha256)));
        Assert.Equal((read.Labels.Path, read.Labels.Sha256, read.Labels.FirstClassOutput, read.Labels.Synsets, read.Labels.SynsetsSha256),
            (again.Labels.Path, again.Labels.Sha256, again.Labels.FirstClassOutput, again.Labels.Synsets, again.Labels.SynsetsSha256));
        var (i, j) = (read.Input, again.Input);
        Assert.Equal((i.Name, i.Layout, i.ElementType, i.Width, i.Height, i.ChannelOrder, i.Scale, i.Resize.Mode, i.Resize.ShorterSide, i.Resize.Fraction),
            (j.Name, j.Layout, j.ElementType, j.Width, j.Height, j.ChannelOrder, j.Scale, j.Resize.Mode, j.Resize.ShorterSide, j.Resize.Fraction));
        Assert.Equal(i.Mean, j.Mean);
        Assert.Equal(i.Std, j.Std);
        Assert.Equal((read.Output.Name, read.Output.Kind, read.Output.Classes), (again.Output.Name, again.Output.Kind, again.Output.Classes));
    }

    [Fact]
    public void Enum_values_are_written_as_the_reader_spells_them()
    {
        Assert.Equal("center_crop", ManifestWriter.Name(ResizeMode.CenterCrop));
        Assert.Equal("central_crop", ManifestWriter.Name(ResizeMode.CentralCrop));
        Assert.Equal("float32", ManifestWriter.Name(TensorElementKind.Float32));
        Assert.Equal("nhwc", ManifestWriter.Name(TensorLayout.Nhwc));
        Assert.Equal("logits", ManifestWriter.Name(OutputKind.Logits));
    }
}
