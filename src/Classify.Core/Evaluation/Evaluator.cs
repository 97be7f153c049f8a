using Classify.Inference;
using Classify.Pipeline;

namespace Classify.Evaluation;

/// <summary>A proportion with its 95% Wilson score interval (sound at 0%, 100% and small counts, unlike p ± 1.96·se).</summary>
public sealed record Accuracy(int Correct, int Total)
{
    private const double Z = 1.959963984540054;

    public double Rate => Total == 0 ? 0 : (double)Correct / Total;

    public (double Low, double High) Ci95
    {
        get
        {
            if (Total == 0) return (0, 1);
            double n = Total, p = Rate, z2 = Z * Z;
            var centre = (p + z2 / (2 * n)) / (1 + z2 / n);
            var half = Z * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
            return (Math.Max(0, centre - half), Math.Min(1, centre + half));
        }
    }
}

/// <summary>One bin of the reliability table: images whose top-1 score fell in [From, To).</summary>
public sealed record ReliabilityBin(double From, double To, int Images, double Accuracy, double Confidence);

public sealed record ClassAccuracy(int Class, int Images, int Top1, int Top5);

public sealed record Confusion(int True, int Predicted, int Images);

public sealed record FailedImage(string File, ImageError Error);

/// <summary>Everything eval reports. <see cref="Top5"/> is null when some result holds fewer than 5 predictions.</summary>
public sealed record EvalReport(string? Model, Accuracy Top1, Accuracy? Top5, int Predictions, double Ece,
    IReadOnlyList<ReliabilityBin> Reliability, IReadOnlyList<ClassAccuracy> PerClass, IReadOnlyList<Confusion> Confused,
    IReadOnlyList<FailedImage> Failed, IReadOnlyList<string> Unlabeled, IReadOnlyList<string> Missing)
{
    public int Images => Top1.Total;
}

/// <summary>
/// Compares results with the truth: top-1 and top-5, per class, the most confused pairs and calibration (expected
/// calibration error over 10 equal bins of the top-1 score, as Guo et al. 2017). A result is found for a labelled
/// image by its path as written, else by its absolute path, else by its file name when that is unique among the
/// results (a truth file of bare names, as ImageNet's). Failed images, images without a label and labelled images
/// without a result are counted and listed, never silently dropped.
/// </summary>
public static class Evaluator
{
    public const int Bins = 10;

    public static EvalReport Evaluate(GroundTruth truth, IReadOnlyList<ImageResult> results, ClassNames names, string? model)
    {
        var exact = new Dictionary<string, int>(StringComparer.Ordinal);
        var absolute = new Dictionary<string, int>(StringComparer.Ordinal);
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < results.Count; i++)
        {
            exact.TryAdd(results[i].File, i);
            absolute.TryAdd(Path.GetFullPath(results[i].File), i);
            var name = Path.GetFileName(results[i].File);
            if (!byName.TryAdd(name, i)) byName[name] = -1; // not unique: no match by name
        }
        var used = new bool[results.Count];
        var missing = new List<string>();
        var failed = new List<FailedImage>();
        var scored = new List<(int Class, Prediction[] Predictions)>();
        foreach (var (file, c) in truth.Rows)
        {
            var i = exact.TryGetValue(file, out var e) ? e
                : absolute.TryGetValue(Path.GetFullPath(file), out var a) ? a
                : file.IndexOf('/') < 0 && byName.TryGetValue(file, out var n) && n >= 0 ? n : -1;
            if (i < 0) { missing.Add(file); continue; }
            used[i] = true;
            var r = results[i];
            if (r.Error is { } error) failed.Add(new FailedImage(r.File, error));
            else scored.Add((c, r.Predictions!));
        }
        var unlabeled = truth.Unlabeled.Concat(results.Where((_, i) => !used[i]).Select(r => r.File)).ToList();
        return Score(scored, names, model, failed, unlabeled, missing);
    }

    private static EvalReport Score(List<(int Class, Prediction[] Predictions)> scored, ClassNames names, string? model,
        List<FailedImage> failed, List<string> unlabeled, List<string> missing)
    {
        var k = scored.Count == 0 ? 0 : scored.Min(s => s.Predictions.Length);
        int top1 = 0, top5 = 0;
        var perClass = new Dictionary<int, (int Images, int Top1, int Top5)>();
        var confused = new Dictionary<(int, int), int>();
        var bins = new (int Images, int Correct, double Confidence)[Bins];
        foreach (var (c, p) in scored)
        {
            var hit1 = Is(p[0], c, names);
            var hit5 = p.Take(5).Any(q => Is(q, c, names));
            top1 += hit1 ? 1 : 0;
            top5 += hit5 ? 1 : 0;
            var row = perClass.GetValueOrDefault(c);
            perClass[c] = (row.Images + 1, row.Top1 + (hit1 ? 1 : 0), row.Top5 + (hit5 ? 1 : 0));
            if (!hit1 && ClassOf(p[0], names) is int predicted)
                confused[(c, predicted)] = confused.GetValueOrDefault((c, predicted)) + 1;
            var b = Math.Clamp((int)(p[0].Score * Bins), 0, Bins - 1);
            bins[b] = (bins[b].Images + 1, bins[b].Correct + (hit1 ? 1 : 0), bins[b].Confidence + p[0].Score);
        }
        var n = scored.Count;
        var reliability = bins.Select((b, i) => new ReliabilityBin((double)i / Bins, (double)(i + 1) / Bins, b.Images,
            b.Images == 0 ? 0 : (double)b.Correct / b.Images, b.Images == 0 ? 0 : b.Confidence / b.Images)).ToList();
        var ece = n == 0 ? 0 : reliability.Sum(b => (double)b.Images / n * Math.Abs(b.Accuracy - b.Confidence));
        return new EvalReport(model, new Accuracy(top1, n), k >= 5 ? new Accuracy(top5, n) : null, k, ece, reliability,
            perClass.Select(p => new ClassAccuracy(p.Key, p.Value.Images, p.Value.Top1, p.Value.Top5))
                .OrderBy(r => (double)r.Top1 / r.Images).ThenByDescending(r => r.Images).ThenBy(r => r.Class).ToList(),
            confused.Select(p => new Confusion(p.Key.Item1, p.Key.Item2, p.Value))
                .OrderByDescending(x => x.Images).ThenBy(x => x.True).ThenBy(x => x.Predicted).ToList(),
            failed, unlabeled, missing);
    }

    /// <summary>Whether a prediction is class <paramref name="c"/>: by index, or by label for text results (no index).</summary>
    private static bool Is(Prediction p, int c, ClassNames names) => p.Class >= 0 ? p.Class == c : p.Label == names.Label(c);

    private static int? ClassOf(Prediction p, ClassNames names)
    {
        if (p.Class >= 0) return p.Class;
        for (var c = 0; c < names.Count; c++)
            if (names.Label(c) == p.Label) return c;
        return null;
    }
}
