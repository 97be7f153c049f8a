using System.Globalization;
using System.Text.Json;
using Classify.Inference;
using Classify.Output;
using Classify.Pipeline;

namespace Classify.Evaluation;

/// <summary>
/// Reads the results classify wrote, in any of its formats, for eval: jsonl (a run's, a merge's, a shard's: the trailer
/// is skipped), json, csv, parquet (known by its first bytes), and text (classify_image.py's lines under "==&gt; FILE &lt;==" headers, which give labels but no
/// class index). The format comes from the extension, else from the first bytes. A line classify cannot have written
/// is an error naming the file and line (exit 31), not a silent gap in the evaluation.
/// </summary>
public static class ResultFiles
{
    public sealed record Contents(List<ImageResult> Results, string? Model);

    public static Contents Read(string path)
    {
        if (File.Exists(path) && ParquetResultReader.IsParquet(path))
            return Parquet(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.EvalDataInvalid, path,
                e is FileNotFoundException or DirectoryNotFoundException ? "no such results file" : $"cannot read the results: {e.Message}");
        }
        var format = ByExtension(path) ?? ByContent(text);
        return format switch
        {
            OutputFormat.Jsonl => Jsonl(path, text),
            OutputFormat.Json => Json(path, text),
            OutputFormat.Csv => Csv(path, text),
            _ => Text(path, text),
        };
    }

    private static OutputFormat? ByExtension(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".jsonl" => OutputFormat.Jsonl,
        ".json" => OutputFormat.Json,
        ".csv" => OutputFormat.Csv,
        ".txt" or ".text" => OutputFormat.Text,
        _ => null,
    };

    /// <summary>csv starts with its header ("file,..."); jsonl with a record that names its file on the first line; json
    /// with an object whose first line does not (its "results" array comes later); anything else is classify_image.py's text.</summary>
    private static OutputFormat ByContent(string text)
    {
        var start = text.TrimStart();
        var firstLine = start.AsSpan()[..(start.IndexOf('\n') is var n and >= 0 ? n : start.Length)];
        if (firstLine.StartsWith("file,", StringComparison.Ordinal)) return OutputFormat.Csv;
        if (!firstLine.StartsWith("{", StringComparison.Ordinal)) return OutputFormat.Text;
        return firstLine.Contains("\"file\"", StringComparison.Ordinal) ? OutputFormat.Jsonl : OutputFormat.Json;
    }

    private static Contents Parquet(string path)
    {
        try
        {
            var rows = ParquetResultReader.Read(path).ToList();
            return new Contents([.. rows.Select(r => r.Result)], rows.Select(r => r.Made?.Model).FirstOrDefault());
        }
        catch (InvalidDataException e)
        {
            throw new ClassifyException(ExitCode.EvalDataInvalid, path, e.Message);
        }
    }

    private static Contents Jsonl(string path, string text)
    {
        var results = new List<ImageResult>();
        string? model = null;
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            var bytes = System.Text.Encoding.UTF8.GetBytes(line);
            if (line.Length == 0 || ShardTrailer.LooksLikeOne(bytes)) continue;
            var r = ResultJson.TryParse(bytes, out var made)
                ?? throw new ClassifyException(ExitCode.EvalDataInvalid, $"{path}:{i + 1}", "not a result classify writes (jsonl)");
            model ??= made?.Model;
            results.Add(r);
        }
        return new Contents(results, model);
    }

    private static Contents Json(string path, string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            var model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            var results = new List<ImageResult>();
            var n = 0;
            foreach (var element in root.GetProperty("results").EnumerateArray())
            {
                n++;
                results.Add(ResultJson.TryParse(System.Text.Encoding.UTF8.GetBytes(element.GetRawText()))
                    ?? throw new ClassifyException(ExitCode.EvalDataInvalid, path, $"result {n} is not a result classify writes (json)"));
            }
            return new Contents(results, model);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ClassifyException(ExitCode.EvalDataInvalid, path, $"not classify's json results ({e.Message})");
        }
    }

    private static Contents Csv(string path, string text)
    {
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var header = Delimited.Split(lines[0], ',');
        int Column(string name) => header.IndexOf(name) is var c and >= 0 ? c
            : throw new ClassifyException(ExitCode.EvalDataInvalid, path, $"no '{name}' column: not classify's csv results");
        var (file, label, cls, score, error, code, kind, synset) = (Column("file"), Column("label"), Column("class"), Column("score"),
            Column("error"), Column("error_code"), Column("error_kind"), header.IndexOf("synset"));
        var modelColumn = header.IndexOf("model");
        var results = new List<ImageResult>();
        string? model = null;
        string? current = null;
        var predictions = new List<Prediction>();
        void Flush()
        {
            if (current is not null && predictions.Count > 0) results.Add(ImageResult.Ok(current, [.. predictions]));
            predictions.Clear();
            current = null;
        }
        for (var i = 1; i < lines.Count; i++)
        {
            if (lines[i].Length == 0) continue;
            var where = $"{path}:{i + 1}";
            try
            {
                var f = Delimited.Split(lines[i], ',');
                if (modelColumn >= 0 && modelColumn < f.Count && f[modelColumn].Length > 0) model ??= f[modelColumn];
                if (f[error].Length > 0)
                {
                    Flush();
                    results.Add(new ImageResult(f[file], null, new ImageError(int.Parse(f[code], CultureInfo.InvariantCulture), f[kind], f[error])));
                    continue;
                }
                if (current != f[file]) Flush();
                current = f[file];
                predictions.Add(new Prediction(f[label], int.Parse(f[cls], CultureInfo.InvariantCulture),
                    float.Parse(f[score], CultureInfo.InvariantCulture), synset >= 0 && f[synset].Length > 0 ? f[synset] : null));
            }
            catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException or OverflowException)
            {
                throw new ClassifyException(ExitCode.EvalDataInvalid, where, "not a result classify writes (csv)");
            }
        }
        Flush();
        return new Contents(results, model);
    }

    private static Contents Text(string path, string text)
    {
        var results = new List<ImageResult>();
        string? current = null;
        var predictions = new List<Prediction>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.StartsWith("==> ", StringComparison.Ordinal) && line.EndsWith(" <==", StringComparison.Ordinal))
            {
                if (current is not null && predictions.Count > 0) results.Add(ImageResult.Ok(current, [.. predictions]));
                (current, predictions) = (line[4..^4], []);
                continue;
            }
            if (line.Length == 0) continue;
            if (line.StartsWith("error: ", StringComparison.Ordinal) && current is not null && predictions.Count == 0)
            {
                // A failed image in text: its message, but no code or kind (the text format records none).
                results.Add(new ImageResult(current, null, new ImageError(ExitCode.SomeImagesFailed, "failed", line[7..])));
                current = null;
                continue;
            }
            var at = line.LastIndexOf(" (score = ", StringComparison.Ordinal);
            if (at < 0 || !line.EndsWith(')') || current is null
                || !float.TryParse(line[(at + 10)..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var score))
                throw new ClassifyException(ExitCode.EvalDataInvalid, $"{path}:{i + 1}", current is null
                    ? "text results without '==> FILE <==' headers (one image's) do not say which file: write jsonl, json or csv for eval"
                    : "not a result classify writes (text)");
            predictions.Add(new Prediction(line[..at], -1, score));
        }
        if (current is not null && predictions.Count > 0) results.Add(ImageResult.Ok(current, [.. predictions]));
        return new Contents(results, null);
    }
}
