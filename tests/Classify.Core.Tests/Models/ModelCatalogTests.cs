using System.Text.Json.Nodes;
using Classify.Models;

namespace Classify.Tests.Models;

public sealed class ModelCatalogTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ModelCatalog _catalog = new(TestData.Models);

    public void Dispose() => _dir.Dispose();

    private ClassifyException LoadFails(Action<JsonObject> edit) =>
        Assert.Throws<ClassifyException>(() => ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.SqueezeNet, edit)));

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void Resolves_a_bundled_model_by_name(string name)
    {
        var manifest = _catalog.Resolve(name, out var format);

        Assert.Equal(name, manifest.Name);
        Assert.Null(format);
        Assert.Equal(TestData.ModelFolder(name), manifest.Directory);
    }

    [Fact]
    public void Resolves_a_model_folder_path()
    {
        var manifest = new ModelCatalog(_dir.Path).Resolve(TestData.ModelFolder(TestData.MobileNet), out var format);

        Assert.Equal(TestData.MobileNet, manifest.Name);
        Assert.Null(format);
    }

    [Theory]
    [InlineData("squeezenet1.1.onnx", "onnx")]
    [InlineData("squeezenet1.1.pt", "torchscript")]
    public void Resolves_a_model_file_with_its_manifest_beside_it(string file, string expectedFormat)
    {
        var manifest = new ModelCatalog(_dir.Path).Resolve(Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), file), out var format);

        Assert.Equal(TestData.SqueezeNet, manifest.Name);
        Assert.Equal(expectedFormat, format);
    }

    [Fact]
    public void Resolves_an_onnx_file_copied_elsewhere_with_its_manifest()
    {
        ModelCopy.Into(_dir.Path, TestData.SqueezeNet);

        var manifest = _catalog.Resolve(_dir.File("squeezenet1.1.onnx"), out var format);

        Assert.Equal(_dir.Path, manifest.Directory);
        Assert.Equal("onnx", format);
    }

    [Fact]
    public void Names_lists_the_bundled_models()
    {
        Assert.Equal([TestData.EdgeTpuFloat, TestData.EdgeTpuQuant, TestData.MobileNet, TestData.SqueezeNet], _catalog.Names());
    }

    [Fact]
    public void Unknown_model_is_ModelNotFound_listing_the_available_ones()
    {
        var e = Assert.Throws<ClassifyException>(() => _catalog.Resolve("resnet50", out _));

        Assert.Equal(ExitCode.ModelNotFound, e.ExitCode);
        Assert.Contains("resnet50", e.Message);
        Assert.Contains($"{TestData.EdgeTpuFloat}, {TestData.EdgeTpuQuant}, {TestData.MobileNet}, {TestData.SqueezeNet}", e.Message);
    }

    [Fact]
    public void Missing_model_path_is_ModelNotFound()
    {
        var e = Assert.Throws<ClassifyException>(() => _catalog.Resolve(_dir.File("gone.onnx"), out _));

        Assert.Equal(ExitCode.ModelNotFound, e.ExitCode);
        Assert.Equal(_dir.File("gone.onnx"), e.File);
    }

    [Fact]
    public void Model_file_without_a_manifest_beside_it_is_ManifestInvalid()
    {
        File.Copy(Path.Combine(TestData.ModelFolder(TestData.SqueezeNet), "squeezenet1.1.onnx"), _dir.File("alone.onnx"));

        var e = Assert.Throws<ClassifyException>(() => _catalog.Resolve(_dir.File("alone.onnx"), out _));

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains("model.json", e.Message);
    }

    [Fact]
    public void Model_file_the_manifest_does_not_list_is_ManifestInvalid()
    {
        ModelCopy.Into(_dir.Path, TestData.SqueezeNet);
        File.Copy(_dir.File("squeezenet1.1.onnx"), _dir.File("other.onnx"));

        var e = Assert.Throws<ClassifyException>(() => _catalog.Resolve(_dir.File("other.onnx"), out _));

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains("other.onnx", e.Message);
    }

    [Fact]
    public void Bundled_model_files_pass_their_checksums()
    {
        foreach (var name in _catalog.Names())
        {
            var manifest = _catalog.Resolve(name, out _);
            foreach (var format in manifest.Files.Keys)
                Assert.True(File.Exists(ModelCatalog.VerifiedFile(manifest, format)));
        }
    }

    [Fact]
    public void Corrupt_model_file_is_ModelCorrupt()
    {
        var manifestPath = ModelCopy.Into(_dir.Path, TestData.SqueezeNet);
        var model = ModelCopy.ModelFile(manifestPath);
        var bytes = File.ReadAllBytes(model);
        for (var i = bytes.Length / 2; i < bytes.Length / 2 + 16; i++) bytes[i] ^= 0xFF;
        File.WriteAllBytes(model, bytes);
        var manifest = ModelCatalog.Load(manifestPath);

        var e = Assert.Throws<ClassifyException>(() => ModelCatalog.VerifiedFile(manifest, "onnx"));

        Assert.Equal(ExitCode.ModelCorrupt, e.ExitCode);
        Assert.Equal(Path.GetFullPath(model), e.File);
        Assert.Contains("checksum", e.Message);
    }

    [Fact]
    public void Truncated_model_file_is_ModelCorrupt()
    {
        var manifestPath = ModelCopy.Into(_dir.Path, TestData.MobileNet);
        var model = ModelCopy.ModelFile(manifestPath);
        File.WriteAllBytes(model, File.ReadAllBytes(model)[..1000]);

        var e = Assert.Throws<ClassifyException>(() => ModelCatalog.VerifiedFile(ModelCatalog.Load(manifestPath), "onnx"));

        Assert.Equal(ExitCode.ModelCorrupt, e.ExitCode);
    }

    [Fact]
    public void Missing_model_file_is_ModelNotFound()
    {
        var manifestPath = ModelCopy.Into(_dir.Path, TestData.SqueezeNet);
        File.Delete(ModelCopy.ModelFile(manifestPath));

        var e = Assert.Throws<ClassifyException>(() => ModelCatalog.VerifiedFile(ModelCatalog.Load(manifestPath), "onnx"));

        Assert.Equal(ExitCode.ModelNotFound, e.ExitCode);
    }

    [Fact]
    public void Format_the_model_lacks_is_ModelNotFound()
    {
        var manifest = _catalog.Resolve(TestData.MobileNet, out _);

        var e = Assert.Throws<ClassifyException>(() => ModelCatalog.VerifiedFile(manifest, "torchscript"));

        Assert.Equal(ExitCode.ModelNotFound, e.ExitCode);
        Assert.Contains("onnx", e.Message);
    }

    [Fact]
    public void Manifest_that_is_not_json_is_ManifestInvalid()
    {
        var path = _dir.File("model.json");
        File.WriteAllText(path, "{ \"name\": \"x\", ");

        var e = Assert.Throws<ClassifyException>(() => ModelCatalog.Load(path));

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Equal(path, e.File);
    }

    [Theory]
    [InlineData("input")]
    [InlineData("output")]
    [InlineData("files")]
    [InlineData("labels")]
    [InlineData("name")]
    public void Manifest_missing_a_section_is_ManifestInvalid(string field)
    {
        var e = LoadFails(m => m.Remove(field));

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Manifest_missing_the_input_size_is_ManifestInvalid()
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m["input"]!.AsObject().Remove("width")).ExitCode);
    }

    [Theory]
    [InlineData("input")]
    [InlineData("files")]
    [InlineData("labels")]
    public void Manifest_with_a_null_section_is_ManifestInvalid(string field)
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m[field] = null).ExitCode);
    }

    [Theory]
    [InlineData("mean")]
    [InlineData("std")]
    [InlineData("resize")]
    [InlineData("name")]
    public void Manifest_with_a_null_input_field_is_ManifestInvalid(string field)
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m["input"]![field] = null).ExitCode);
    }

    [Fact]
    public void Manifest_with_a_null_file_entry_is_ManifestInvalid()
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m["files"]!["onnx"] = null).ExitCode);
    }

    [Fact]
    public void Manifest_with_no_files_is_ManifestInvalid()
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m["files"] = new JsonObject()).ExitCode);
    }

    [Fact]
    public void Std_of_zero_is_ManifestInvalid()
    {
        var e = LoadFails(m => m["input"]!["std"] = new JsonArray(1, 0, 1));

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains("std", e.Message);
    }

    [Fact]
    public void Mean_of_two_values_is_ManifestInvalid()
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m["input"]!["mean"] = new JsonArray(0, 0)).ExitCode);
    }

    [Fact]
    public void Unknown_layout_is_ManifestInvalid()
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m["input"]!["layout"] = "chwn").ExitCode);
    }

    [Fact]
    public void Uint8_input_with_normalisation_is_ManifestInvalid()
    {
        var e = Assert.Throws<ClassifyException>(() => ModelCatalog.Load(ModelCopy.Into(_dir.Path, TestData.MobileNet,
            m => m["input"]!["scale"] = 0.5)));

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
    }

    [Fact]
    public void Center_crop_smaller_than_the_input_is_ManifestInvalid()
    {
        var e = LoadFails(m => m["input"]!["resize"] = new JsonObject { ["mode"] = "center_crop", ["shorterSide"] = 200 });

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
    }

    [Fact]
    public void Zero_output_classes_is_ManifestInvalid()
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m["output"]!["classes"] = 0).ExitCode);
    }

    [Fact]
    public void Bundled_manifests_agree_with_SHA256SUMS()
    {
        var sums = File.ReadAllLines(Path.Combine(TestData.Models, "SHA256SUMS"))
            .Where(l => l.Length > 0)
            .Select(l => l.Split("  ", 2))
            .ToDictionary(p => Path.GetFullPath(Path.Combine(TestData.Models, p[1])), p => p[0]);
        var checkedFiles = 0;
        foreach (var name in _catalog.Names())
        {
            var manifest = _catalog.Resolve(name, out _);
            foreach (var file in manifest.Files.Values)
            {
                Assert.Equal(sums[manifest.PathOf(file)], file.Sha256);
                checkedFiles++;
            }
            Assert.Equal(sums[Path.GetFullPath(Path.Combine(manifest.Directory, manifest.Labels.Path))], manifest.Labels.Sha256);
        }
        Assert.Equal(8, checkedFiles); // SqueezeNet onnx, onnx-fp16 and torchscript, MobileNet onnx, EdgeTPU quant onnx, float onnx, onnx-fp16 and torchscript
    }

    [Fact]
    public void SHA256SUMS_matches_the_files()
    {
        foreach (var line in File.ReadAllLines(Path.Combine(TestData.Models, "SHA256SUMS")).Where(l => l.Length > 0))
        {
            var parts = line.Split("  ", 2);
            Assert.Equal(parts[0], ModelCopy.Sha256(Path.Combine(TestData.Models, parts[1])));
        }
    }

    [Fact]
    public void Manifest_reads_center_crop_and_case_insensitive_names_and_values()
    {
        var path = ModelCopy.Into(_dir.Path, TestData.SqueezeNet, m =>
        {
            m["input"]!["resize"] = new JsonObject { ["mode"] = "center_crop", ["shorterSide"] = 256 };
            m["input"]!["channelOrder"] = "RGB";
            m["input"]!.AsObject().Remove("layout");
            m["input"]!["Layout"] = "NHWC";
        });

        var manifest = ModelCatalog.Load(path);

        Assert.Equal(ResizeMode.CenterCrop, manifest.Input.Resize.Mode);
        Assert.Equal(256, manifest.Input.Resize.ShorterSide);
        Assert.Equal(ChannelOrder.Rgb, manifest.Input.ChannelOrder);
        Assert.Equal(TensorLayout.Nhwc, manifest.Input.Layout);
    }

    [Theory]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void EdgeTPU_manifests_use_tf_slims_central_crop_of_87_5_percent(string model)
    {
        var manifest = _catalog.Resolve(model, out _);

        Assert.Equal(ResizeMode.CentralCrop, manifest.Input.Resize.Mode);
        Assert.Equal(0.875, manifest.Input.Resize.Fraction);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.01)]
    public void Central_crop_fraction_outside_0_to_1_is_ManifestInvalid(double fraction)
    {
        var e = LoadFails(m => m["input"]!["resize"] = new JsonObject { ["mode"] = "central_crop", ["fraction"] = fraction });

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains("central_crop needs 0 < resize.fraction <= 1", e.Message);
    }

    [Fact]
    public void Central_crop_without_a_fraction_is_ManifestInvalid()
    {
        Assert.Equal(ExitCode.ManifestInvalid, LoadFails(m => m["input"]!["resize"] = new JsonObject { ["mode"] = "central_crop" }).ExitCode);
    }

    [Fact]
    public void Manifest_with_an_unknown_enum_value_names_the_allowed_ones()
    {
        var e = LoadFails(m => m["output"]!["kind"] = "scores");

        Assert.Equal(ExitCode.ManifestInvalid, e.ExitCode);
        Assert.Contains("output.kind", e.Message);
        Assert.Contains("probabilities, logits", e.Message);
    }
}
