using System.Text.Encodings.Web;
using System.Text.Json;
using Classify.Inference;
using Classify.Inputs;
using Classify.Pipeline;

namespace Classify.Output;

/// <summary>
/// The one JSON shape of a result, written and read here (issue 27: it was written in one file and read in another):
/// the json and jsonl formats, the resume journal and shard files write it; merge, resume and eval read it back.
/// </summary>
public static class ResultJson
{
    public static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="exactScores">Write scores unrounded (the resume journal, so that a resumed run's output
    /// in any format equals an uninterrupted one's).</param>
    /// <param name="made">jsonl's per-record provenance, after the result so that a line still reads file first, then
    /// predictions; null in json (its header has it) and in the journal (its fingerprint covers it).</param>
    /// <param name="halfFeatures">The journal of a run whose embeddings are float16 keeps them as float16 (half the
    /// bytes of float32, and the same .npy: the rounding is the one the file makes anyway).</param>
    public static void Write(Utf8JsonWriter json, ImageResult result, bool exactScores = false, Provenance? made = null, bool halfFeatures = false)
    {
        json.WriteStartObject();
        if (FileNames.HasEscapes(result.File))
        {
            json.WritePropertyName("file");
            json.WriteRawValue(JsonNames.Quote(result.File), skipInputValidation: true);
        }
        else
        {
            json.WriteString("file", result.File);
        }
        if (result.Error is { } error)
        {
            json.WriteStartObject("error");
            json.WriteNumber("code", error.Code);
            json.WriteString("kind", error.Kind);
            json.WriteString("message", error.Message);
            json.WriteEndObject();
        }
        else
        {
            json.WriteStartArray("predictions");
            foreach (var p in result.Predictions!)
            {
                json.WriteStartObject();
                json.WriteString("label", p.Label);
                if (p.Synset is { } synset)
                    json.WriteString("synset", synset);
                json.WriteNumber("class", p.Class);
                // Fixed-point with six decimals, as csv prints it, so formats agree and output is stable across machines.
                if (exactScores)
                    json.WriteNumber("score", p.Score);
                else
                {
                    json.WritePropertyName("score");
                    json.WriteRawValue(ResultWriter.MachineScore(p.Score), skipInputValidation: true);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            if (result.Device is { } device)
                json.WriteString("device", device);
            // --features: the journal keeps each embedding (little-endian float32 or float16 bytes, base64) so that a
            // resumed run's .npy rows are the uninterrupted run's; results files never carry it.
            if (exactScores && result.Features is { } features)
                WriteFeatures(json, features, halfFeatures);
        }
        if (made is not null)
        {
            json.WriteString("model", made.Model);
            json.WriteString("model_sha256", made.ModelSha256);
            json.WriteString("classify_version", made.ClassifyVersion);
        }
        json.WriteEndObject();
    }

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
            var embedding = ReadFeatures(root, out var torn);
            if (torn)
                return null;
            return ImageResult.Ok(name, list) with { Device = device, Features = embedding };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            made = null;
            return null;
        }
    }

    private static void WriteFeatures(Utf8JsonWriter json, float[] features, bool half)
    {
        var bytes = new byte[features.Length * (half ? 2 : 4)];
        for (var i = 0; i < features.Length; i++)
        {
            if (half) System.Buffers.Binary.BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(2 * i), (Half)features[i]);
            else System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), features[i]);
        }
        json.WriteBase64String(half ? "features_f16" : "features", bytes);
    }

    private static float[]? ReadFeatures(JsonElement root, out bool torn)
    {
        torn = false;
        var half = root.TryGetProperty("features_f16", out var value);
        if (!half && !root.TryGetProperty("features", out value))
            return null;
        var bytes = value.GetBytesFromBase64();
        var size = half ? 2 : 4;
        if (bytes.Length % size != 0)
        {
            torn = true;
            return null;
        }
        var features = new float[bytes.Length / size];
        for (var i = 0; i < features.Length; i++)
            features[i] = half ? (float)System.Buffers.Binary.BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(2 * i))
                : System.Buffers.Binary.BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(4 * i));
        return features;
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
