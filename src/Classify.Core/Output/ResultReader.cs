using System.Text.Json;
using Classify.Inference;
using Classify.Pipeline;

namespace Classify.Output;

/// <summary>Reads back one line of the jsonl format (<see cref="JsonFormat"/>): for merge and resume.</summary>
public static class ResultReader
{
    /// <inheritdoc cref="TryParse(ReadOnlySpan{byte}, out Provenance?)"/>
    public static ImageResult? TryParse(ReadOnlySpan<byte> line) => TryParse(line, out _);

    /// <summary>The result on <paramref name="line"/>, or null when the line is not one classify could have written:
    /// torn, foreign, one object followed by anything else, no predictions, a score that is not a finite number, or
    /// only part of the provenance. Merge copies only lines that pass.</summary>
    /// <param name="made">The record's provenance; null for a journal record or a line of a build that did not write it.</param>
    public static ImageResult? TryParse(ReadOnlySpan<byte> line, out Provenance? made)
    {
        made = null;
        try
        {
            var reader = new Utf8JsonReader(line);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (reader.BytesConsumed != line.Length)
                return null;
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("file", out var file) || file.ValueKind != JsonValueKind.String
                || !TryReadProvenance(root, out made))
                return null;
            var name = FileName(file);
            if (root.TryGetProperty("error", out var error))
            {
                return new ImageResult(name, null, new ImageError(
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
                // classify writes a synset as a string or not at all.
                var synset = !p.TryGetProperty("synset", out var s) ? null
                    : s.ValueKind == JsonValueKind.String ? s.GetString() : throw new FormatException("synset is not a string");
                list[i++] = new Prediction(p.GetProperty("label").GetString()!, p.GetProperty("class").GetInt32(), score, synset);
            }
            var device = !root.TryGetProperty("device", out var d) ? null
                : d.ValueKind == JsonValueKind.String ? d.GetString() : throw new FormatException("device is not a string");
            return ImageResult.Ok(name, list) with { Device = device };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            made = null;
            return null;
        }
    }

    /// <summary>The file name; one that is not UTF-8 holds lone-surrogate escapes, which GetString refuses (JsonNames).</summary>
    private static string FileName(JsonElement file)
    {
        try
        {
            return file.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return JsonNames.Unquote(file.GetRawText());
        }
    }

    /// <summary>All three provenance fields as strings, or none of them; anything between is no line classify wrote.</summary>
    private static bool TryReadProvenance(JsonElement root, out Provenance? made)
    {
        made = null;
        string? Field(string name) => !root.TryGetProperty(name, out var v) ? null
            : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new FormatException($"{name} is not a string");
        var (model, sha, version) = (Field("model"), Field("model_sha256"), Field("classify_version"));
        if (model is null && sha is null && version is null)
            return true;
        if (model is null || sha is null || version is null)
            return false;
        made = new Provenance(model, sha, version);
        return true;
    }
}
