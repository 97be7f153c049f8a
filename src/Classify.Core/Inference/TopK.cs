using System.Runtime.Intrinsics;
using Classify.Models;

namespace Classify.Inference;

/// <summary>One predicted class: its label, its ImageNet-style class index (label index), its score, and its synset id
/// when the model's manifest names a synsets file (null otherwise).</summary>
public readonly record struct Prediction(string Label, int Class, float Score, string? Synset = null);

/// <summary>Decodes one image's raw model output into its top-k classes.</summary>
public static class TopK
{
    /// <summary>
    /// Picks the <paramref name="k"/> highest scores among the class outputs (outputs before
    /// <see cref="Labels.FirstClassOutput"/>, such as "background", are never reported). Logits are turned into
    /// probabilities with a softmax over the class outputs first. Ties keep the lower class index first.
    /// </summary>
    public static Prediction[] Select(ReadOnlySpan<float> output, Labels labels, OutputKind kind, int k)
    {
        var classes = output[labels.FirstClassOutput..];
        k = Math.Min(k, classes.Length);
        if (k <= 0) return [];
        float max = float.NegativeInfinity, sum = 0;
        if (kind == OutputKind.Logits)
        {
            // A NaN output (a broken model or input) must not poison the softmax of the other classes.
            max = MaxIgnoringNaN(classes);
            foreach (var v in classes) if (!float.IsNaN(v)) sum += MathF.Exp(v - max);
        }
        // k is small (5): an insertion into a sorted array beats sorting 1000 scores, and once k are held, four
        // scores at a time are compared with the k-th best and only a block holding a better one is looked at.
        Span<int> best = stackalloc int[k];
        var count = 0;
        var i = 0;
        for (; i + 4 <= classes.Length; i += 4)
        {
            // NaN compares false: a block of NaNs and scores no better than the k-th is skipped whole.
            if (count == k && !Vector128.GreaterThanAny(Vector128.Create(classes.Slice(i, 4)), Vector128.Create(classes[best[k - 1]])))
                continue;
            for (var j = i; j < i + 4; j++)
                Insert(classes, best, ref count, j);
        }
        for (; i < classes.Length; i++)
            Insert(classes, best, ref count, i);
        var result = new Prediction[count];
        for (var r = 0; r < count; r++)
        {
            var c = best[r];
            var score = kind == OutputKind.Logits ? MathF.Exp(classes[c] - max) / sum : classes[c];
            result[r] = new Prediction(labels.Names[c], c, score, labels.Synsets?[c]);
        }
        return result;
    }

    private static void Insert(ReadOnlySpan<float> classes, Span<int> best, ref int count, int i)
    {
        var k = best.Length;
        var v = classes[i];
        if (float.IsNaN(v)) return;
        if (count == k && v <= classes[best[k - 1]]) return;
        var pos = count < k ? count++ : k - 1;
        while (pos > 0 && classes[best[pos - 1]] < v)
        {
            best[pos] = best[pos - 1];
            pos--;
        }
        best[pos] = i;
    }

    /// <summary>The largest value that is not NaN (negative infinity if none), four at a time.</summary>
    private static float MaxIgnoringNaN(ReadOnlySpan<float> values)
    {
        var negative = Vector128.Create(float.NegativeInfinity);
        var acc = negative;
        var i = 0;
        for (; i + 4 <= values.Length; i += 4)
        {
            var v = Vector128.Create(values.Slice(i, 4));
            acc = Vector128.Max(acc, Vector128.ConditionalSelect(Vector128.Equals(v, v), v, negative)); // NaN != NaN
        }
        var max = float.NegativeInfinity;
        for (var lane = 0; lane < 4; lane++) max = Math.Max(max, acc.GetElement(lane));
        for (; i < values.Length; i++) if (!float.IsNaN(values[i])) max = Math.Max(max, values[i]);
        return max;
    }
}
