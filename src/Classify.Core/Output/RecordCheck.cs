using System.Globalization;
using Classify.Models;
using Classify.Pipeline;

namespace Classify.Output;

/// <summary>
/// Whether a result read back from a resume journal is one this run could have produced: the model's top-k count, each
/// class a label of the model under its own name and synset, scores finite, in [0, 1] and in descending order, an error
/// with a known image exit code under its own name. A journal is a file in a folder that others may write to, and a
/// record that passes the file-name check but was edited (or written by a damaged disk) would otherwise be replayed
/// into the result file as if classified.
/// </summary>
public sealed class RecordCheck(Labels labels, int topK)
{
    private readonly int _k = Math.Min(topK, labels.Names.Count);

    /// <summary>Null when <paramref name="result"/> fits, else what does not.</summary>
    public string? Problem(ImageResult result)
    {
        if (result.Error is { } error)
        {
            if (error.Code is not (ExitCode.ImageNotFound or ExitCode.ImageUnreadable or ExitCode.ImageUnsupported or ExitCode.ImageCorrupt or ExitCode.ImageTooLarge or ExitCode.ImageTimeout)
                || ExitCodeNames.Of(error.Code) != error.Kind)
                return $"error code {error.Code} ({error.Kind}) is not an image error classify reports";
            return error.Message.Length == 0 ? "an error without a message" : null;
        }
        var predictions = result.Predictions!;
        // Fewer than k only where the model put out NaN for the others (TopK skips them).
        if (predictions.Length == 0 || predictions.Length > _k)
            return $"{predictions.Length} predictions, but this run reports {_k}";
        for (var i = 0; i < predictions.Length; i++)
        {
            var p = predictions[i];
            if (p.Class < 0 || p.Class >= labels.Names.Count)
                return $"class {p.Class.ToString(CultureInfo.InvariantCulture)} is not one of the model's {labels.Names.Count} classes";
            if (p.Label != labels.Names[p.Class] || p.Synset != labels.Synsets?[p.Class])
                return $"class {p.Class.ToString(CultureInfo.InvariantCulture)} is not named '{p.Label}'{(p.Synset is null ? "" : $" ({p.Synset})")} by the model's labels";
            if (!(p.Score >= 0 && p.Score <= 1))
                return $"score {p.Score.ToString(CultureInfo.InvariantCulture)} is not a probability";
            if (i > 0 && p.Score > predictions[i - 1].Score)
                return "scores are not in descending order";
        }
        return null;
    }
}
