using Classify.Inference;
using Classify.Models;

namespace Classify.Tests.Inference;

public sealed class TopKTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Labels "c0".."c{n-1}" for a model with <paramref name="firstClassOutput"/> extra outputs in front.</summary>
    private Labels LabelsFor(int classes, int firstClassOutput = 0)
    {
        File.WriteAllLines(_dir.File("labels.txt"), Enumerable.Range(0, classes).Select(i => "c" + i));
        var manifest = new ModelManifest
        {
            Name = "tiny",
            Files = new() { ["onnx"] = new ModelFile { Path = "tiny.onnx", Sha256 = "00" } },
            Labels = new LabelsSpec { Path = "labels.txt", FirstClassOutput = firstClassOutput },
            Input = new InputSpec { Name = "x", Width = 1, Height = 1 },
            Output = new OutputSpec { Name = "y", Classes = classes + firstClassOutput },
            Directory = _dir.Path,
        };
        return Labels.Load(manifest);
    }

    [Fact]
    public void Highest_scores_come_first()
    {
        var top = TopK.Select([0.1f, 0.5f, 0.2f, 0.05f, 0.15f], LabelsFor(5), OutputKind.Probabilities, 3);

        Assert.Equal([1, 2, 4], top.Select(p => p.Class));
        Assert.Equal(["c1", "c2", "c4"], top.Select(p => p.Label));
        Assert.Equal([0.5f, 0.2f, 0.15f], top.Select(p => p.Score));
    }

    [Fact]
    public void Ties_keep_the_lower_class_first()
    {
        var top = TopK.Select([0.1f, 0.3f, 0.3f, 0.1f, 0.3f], LabelsFor(5), OutputKind.Probabilities, 2);

        Assert.Equal([1, 2], top.Select(p => p.Class));
    }

    [Fact]
    public void K_larger_than_the_classes_gives_every_class_in_order()
    {
        var top = TopK.Select([0.2f, 0.7f, 0.1f], LabelsFor(3), OutputKind.Probabilities, 10);

        Assert.Equal([1, 0, 2], top.Select(p => p.Class));
    }

    [Fact]
    public void Logits_become_softmax_probabilities()
    {
        float[] logits = [1f, 3f, 2f, -1f];
        var top = TopK.Select(logits, LabelsFor(4), OutputKind.Logits, 4);

        var sum = logits.Sum(v => Math.Exp(v));
        Assert.Equal([1, 2, 0, 3], top.Select(p => p.Class));
        Assert.InRange(top.Sum(p => p.Score), 0.9999f, 1.0001f);
        foreach (var p in top)
            Assert.Equal(Math.Exp(logits[p.Class]) / sum, p.Score, 1e-6);
    }

    [Fact]
    public void Large_logits_do_not_overflow()
    {
        var top = TopK.Select([1000f, 999f], LabelsFor(2), OutputKind.Logits, 2);

        Assert.Equal(1 / (1 + Math.Exp(-1)), top[0].Score, 1e-6);
        Assert.InRange(top.Sum(p => p.Score), 0.9999f, 1.0001f);
    }

    [Fact]
    public void Outputs_before_the_first_class_are_never_reported()
    {
        // MobileNet's output 0 is "background": even when it wins, class 0 is output 1.
        var top = TopK.Select([0.9f, 0.02f, 0.05f, 0.03f], LabelsFor(3, firstClassOutput: 1), OutputKind.Probabilities, 5);

        Assert.Equal([1, 2, 0], top.Select(p => p.Class));
        Assert.Equal(["c1", "c2", "c0"], top.Select(p => p.Label));
    }

    [Fact]
    public void Softmax_of_logits_excludes_the_background_output()
    {
        var top = TopK.Select([50f, 0f, 0f], LabelsFor(2, firstClassOutput: 1), OutputKind.Logits, 2);

        Assert.All(top, p => Assert.Equal(0.5f, p.Score, 1e-6f));
    }

    [Fact]
    public void NaN_scores_are_skipped()
    {
        var top = TopK.Select([float.NaN, 0.4f, 0.6f], LabelsFor(3), OutputKind.Probabilities, 3);

        Assert.Equal([2, 1], top.Select(p => p.Class));
    }

    [Theory]
    [InlineData(1001, 5, 1)]
    [InlineData(1000, 5, 0)]
    [InlineData(37, 10, 0)]
    [InlineData(1000, 1, 1)]
    public void Vectorised_scan_picks_what_a_full_sort_picks(int outputs, int k, int firstClassOutput)
    {
        // Scores drawn from a few values (many ties, ties across the four-score blocks), some NaN and infinite.
        var random = new Random(outputs + k);
        var pool = new[] { 0.1f, 0.2f, 0.2f, 0.5f, 3f, float.NaN, float.NegativeInfinity, float.PositiveInfinity, -2f };
        var labels = LabelsFor(outputs - firstClassOutput, firstClassOutput);
        for (var round = 0; round < 200; round++)
        {
            var scores = Enumerable.Range(0, outputs).Select(_ => pool[random.Next(pool.Length)] * (random.Next(3) + 1)).ToArray();
            foreach (var kind in new[] { OutputKind.Probabilities, OutputKind.Logits })
            {
                var classes = scores[firstClassOutput..];
                var expected = classes.Select((v, c) => (v, c)).Where(x => !float.IsNaN(x.v))
                    .OrderByDescending(x => x.v).ThenBy(x => x.c).Take(k).Select(x => x.c).ToArray();
                var top = TopK.Select(scores, labels, kind, k);
                Assert.Equal(expected, top.Select(p => p.Class).ToArray());
            }
        }
    }
}
