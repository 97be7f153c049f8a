using Classify.Models;

namespace Classify.Inference;

/// <summary>One predicted class: its label, its ImageNet-style class index (label index) and its score.</summary>
public readonly record struct Prediction(string Label, int Class, float Score);

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
        float max = float.NegativeInfinity, sum = 0;
        if (kind == OutputKind.Logits)
        {
            // A NaN output (a broken model or input) must not poison the softmax of the other classes.
            foreach (var v in classes) if (!float.IsNaN(v)) max = Math.Max(max, v);
            foreach (var v in classes) if (!float.IsNaN(v)) sum += MathF.Exp(v - max);
        }
        // k is small (5): an insertion into a sorted array beats sorting 1000 scores.
        Span<int> best = stackalloc int[k];
        var count = 0;
        for (var i = 0; i < classes.Length; i++)
        {
            var v = classes[i];
            if (float.IsNaN(v)) continue;
            if (count == k && v <= classes[best[k - 1]]) continue;
            var pos = count < k ? count++ : k - 1;
            while (pos > 0 && classes[best[pos - 1]] < v)
            {
                best[pos] = best[pos - 1];
                pos--;
            }
            best[pos] = i;
        }
        var result = new Prediction[count];
        for (var r = 0; r < count; r++)
        {
            var i = best[r];
            var score = kind == OutputKind.Logits ? MathF.Exp(classes[i] - max) / sum : classes[i];
            result[r] = new Prediction(labels.Names[i], i, score);
        }
        return result;
    }
}
