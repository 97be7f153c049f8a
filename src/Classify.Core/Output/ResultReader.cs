using System.Text.Json;
using Classify.Inference;
using Classify.Pipeline;

namespace Classify.Output;

/// <summary>Reads back one line of the jsonl format (<see cref="JsonFormat"/>): for merge and resume.</summary>
public static class ResultReader
{
    /// <summary>The result on <paramref name="line"/>, or null when the line is not one classify could have written:
    /// torn, foreign, one object followed by anything else, no predictions, or a score that is not a finite number.
    /// Merge copies only lines that pass.</summary>
    public static ImageResult? TryParse(ReadOnlySpan<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (reader.BytesConsumed != line.Length)
                return null;
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("file", out var file) || file.ValueKind != JsonValueKind.String)
                return null;
            if (root.TryGetProperty("error", out var error))
            {
                return new ImageResult(file.GetString()!, null, new ImageError(
                    error.GetProperty("code").GetInt32(),
                    error.GetProperty("kind").GetString()!,
                    error.GetProperty("message").GetString()!));
            }
            var predictions = root.GetProperty("predictions");
            var list = new Prediction[predictions.GetArrayLength()];
            if (list.Length == 0)
                return null;
            var i = 0;
            foreach (var p in predictions.EnumerateArray())
            {
                var score = p.GetProperty("score").GetSingle();
                if (!float.IsFinite(score))
                    return null;
                list[i++] = new Prediction(p.GetProperty("label").GetString()!, p.GetProperty("class").GetInt32(), score);
            }
            return ImageResult.Ok(file.GetString()!, list);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return null;
        }
    }
}
