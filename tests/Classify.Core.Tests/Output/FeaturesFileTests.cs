using System.Text.Json;
using Classify.Inference;
using Classify.Output;
using Classify.Output.Features;
using Classify.Pipeline;

namespace Classify.Tests.Output;

public sealed class FeaturesFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_header_is_numpys_format_1_0_written_over_its_placeholder_at_the_end()
    {
        var path = _dir.File("e.features.npy");
        using (var file = new FeaturesFile(path, 3, FeaturesDtype.Float16))
        {
            file.Write(ImageResult.Ok("a.png", []) with { Features = [1f, -2.5f, 0.333f] });
            file.Write(ImageResult.Failed("b.png", new ClassifyException(ExitCode.ImageCorrupt, "b.png", "damaged")));
            Assert.False(File.Exists(path), "the file appears only when complete");
            file.Commit();
        }
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(128 + 2 * 3 * 2, bytes.Length);
        Assert.Equal("NUMPY"u8.ToArray(), bytes[1..6]);
        Assert.Equal([0x93, (byte)'N'], bytes[..2]);
        Assert.Equal("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }",
            System.Text.Encoding.ASCII.GetString(bytes, 10, 118).TrimEnd('\n', ' '));
        Assert.Equal((byte)'\n', bytes[127]);
        Assert.Equal(new NpyHeader(FeaturesDtype.Float16, 2, 3), NpyHeader.Read(path));
        Assert.Equal((Half)0.333f, BitConverter.ToHalf(bytes, 128 + 4));
        Assert.All(bytes[134..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void A_file_cut_short_or_not_classifys_is_refused()
    {
        var path = _dir.File("e.features.npy");
        using (var file = new FeaturesFile(path, 4, FeaturesDtype.Float32))
        {
            file.Write([1f, 2f, 3f, 4f]);
            file.Commit();
        }
        File.WriteAllBytes(_dir.File("cut.npy"), File.ReadAllBytes(path)[..^1]);
        Assert.Contains("cut short", Assert.Throws<InvalidDataException>(() => NpyHeader.Read(_dir.File("cut.npy"))).Message);
        File.WriteAllText(_dir.File("text.npy"), "hello");
        Assert.Contains("not a .npy file", Assert.Throws<InvalidDataException>(() => NpyHeader.Read(_dir.File("text.npy"))).Message);
        Assert.Equal("results.shard-0003-of-0016.features.npy", FeaturesFile.PathFor("results.shard-0003-of-0016.jsonl"));
        Assert.Equal("out/results.features.npy", FeaturesFile.PathFor("out/results"));
    }

    [Fact]
    public void The_journal_keeps_an_embedding_exactly_and_results_files_never_carry_it()
    {
        float[] embedding = [0.1f, 1e-7f, 3.4028235e38f, 0f];
        var result = ImageResult.Ok("a.png", [new Prediction("cat", 1, 0.5f, null)]) with { Features = embedding };
        string Json(bool journal, bool half = false)
        {
            using var buffer = new MemoryStream();
            using (var json = new Utf8JsonWriter(buffer, ResultJson.Options))
                ResultJson.Write(json, result, exactScores: journal, halfFeatures: half);
            return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        }
        Assert.DoesNotContain("features", Json(journal: false));
        Assert.Equal(embedding, ResultJson.TryParse(System.Text.Encoding.UTF8.GetBytes(Json(journal: true)))!.Features);
        // A float16 run's journal keeps float16, which is what its .npy holds: the same values once rounded.
        var half = ResultJson.TryParse(System.Text.Encoding.UTF8.GetBytes(Json(journal: true, half: true)))!.Features!;
        Assert.Contains("\"features_f16\"", Json(journal: true, half: true));
        Assert.Equal(embedding.Select(v => (float)(Half)v), half);
        Assert.Equal(half.Select(v => (float)(Half)v), half);
    }
}
