using System.Globalization;
using System.Text.Json;

namespace Classify.Evaluation;

/// <summary>eval's report: a table for people, or one JSON object (--json) with every list in full.</summary>
public static class EvalReportWriter
{
    /// <summary>How many failed, unlabeled or missing images the table names before "and N more".</summary>
    public const int Listed = 20;

    private static string Percent(double rate) => (rate * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string Line(string name, Accuracy a) =>
        $"  {name,-6}{Percent(a.Rate),7}  {a.Correct}/{a.Total}  95% CI {Percent(a.Ci95.Low)}-{Percent(a.Ci95.High)}";

    public static void Table(TextWriter w, EvalReport r, ClassNames names)
    {
        w.WriteLine($"classify eval: {r.Images} labelled image(s) of {r.PerClass.Count} class(es){(r.Model is null ? "" : $", model {r.Model}")}");
        w.WriteLine(Line("top-1", r.Top1));
        w.WriteLine(r.Top5 is { } t5 ? Line("top-5", t5) : $"  top-5   n/a (the results hold {r.Predictions} prediction(s) per image: classify with -n 5)");
        w.WriteLine($"  calibration: expected calibration error {r.Ece.ToString("0.000", CultureInfo.InvariantCulture)} ({Evaluator.Bins} bins of the top-1 score)");
        if (r.PerClass.Count > 0)
        {
            w.WriteLine();
            w.WriteLine("per class (lowest top-1 first):");
            w.WriteLine("  images   top-1   top-5  class");
            foreach (var c in r.PerClass)
                w.WriteLine($"  {c.Images,6} {Percent((double)c.Top1 / c.Images),7} {(r.Top5 is null ? "n/a" : Percent((double)c.Top5 / c.Images)),7}  {names.Describe(c.Class)}");
        }
        if (r.Confused.Count > 0)
        {
            w.WriteLine();
            w.WriteLine("most confused (true -> predicted top-1):");
            foreach (var c in r.Confused.Take(10))
                w.WriteLine($"  {c.Images,6}  {names.Describe(c.True)} -> {names.Describe(c.Predicted)}");
        }
        if (r.Images > 0)
        {
            w.WriteLine();
            w.WriteLine("reliability (top-1 score):");
            w.WriteLine("  score     images  accuracy  mean score");
            foreach (var b in r.Reliability.Where(b => b.Images > 0))
                w.WriteLine($"  {b.From.ToString("0.0", CultureInfo.InvariantCulture)}-{b.To.ToString("0.0", CultureInfo.InvariantCulture)}  {b.Images,7}  {Percent(b.Accuracy),8}  {b.Confidence.ToString("0.000", CultureInfo.InvariantCulture),10}");
        }
        List(w, "failed (not evaluated)", r.Failed.Select(f => f.Error.Message.StartsWith(f.File, StringComparison.Ordinal) ? f.Error.Message : $"{f.File}: {f.Error.Message}"));
        List(w, "without a label (not evaluated)", r.Unlabeled);
        List(w, "labelled, without a result (not evaluated)", r.Missing);
    }

    private static void List(TextWriter w, string what, IEnumerable<string> items)
    {
        var all = items.ToList();
        if (all.Count == 0) return;
        w.WriteLine();
        w.WriteLine($"{what}: {all.Count}");
        foreach (var item in all.Take(Listed)) w.WriteLine($"  {item}");
        if (all.Count > Listed) w.WriteLine($"  ... and {all.Count - Listed} more (--json lists all)");
    }

    public static byte[] Json(EvalReport r, ClassNames names)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (r.Model is not null) json.WriteString("model", r.Model);
            json.WriteNumber("images", r.Images);
            json.WriteNumber("classes", r.PerClass.Count);
            Accuracy(json, "top1", r.Top1);
            if (r.Top5 is { } t5) Accuracy(json, "top5", t5); else json.WriteNull("top5");
            json.WriteNumber("predictions_per_image", r.Predictions);
            json.WriteStartObject("calibration");
            json.WriteNumber("ece", r.Ece);
            json.WriteStartArray("bins");
            foreach (var b in r.Reliability)
            {
                json.WriteStartObject();
                json.WriteNumber("from", b.From);
                json.WriteNumber("to", b.To);
                json.WriteNumber("images", b.Images);
                json.WriteNumber("accuracy", b.Accuracy);
                json.WriteNumber("mean_score", b.Confidence);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteStartArray("per_class");
            foreach (var c in r.PerClass)
            {
                json.WriteStartObject();
                Class(json, c.Class, names);
                json.WriteNumber("images", c.Images);
                json.WriteNumber("top1", c.Top1);
                json.WriteNumber("top5", c.Top5);
                json.WriteNumber("accuracy", (double)c.Top1 / c.Images);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("confused");
            foreach (var c in r.Confused)
            {
                json.WriteStartObject();
                json.WriteStartObject("true"); Class(json, c.True, names); json.WriteEndObject();
                json.WriteStartObject("predicted"); Class(json, c.Predicted, names); json.WriteEndObject();
                json.WriteNumber("images", c.Images);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartArray("failed");
            foreach (var f in r.Failed)
            {
                json.WriteStartObject();
                json.WriteString("file", f.File);
                json.WriteNumber("code", f.Error.Code);
                json.WriteString("kind", f.Error.Kind);
                json.WriteString("message", f.Error.Message);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            Strings(json, "unlabeled", r.Unlabeled);
            Strings(json, "missing", r.Missing);
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static void Accuracy(Utf8JsonWriter json, string name, Accuracy a)
    {
        json.WriteStartObject(name);
        json.WriteNumber("correct", a.Correct);
        json.WriteNumber("total", a.Total);
        json.WriteNumber("accuracy", a.Rate);
        json.WriteStartArray("ci95");
        json.WriteNumberValue(a.Ci95.Low);
        json.WriteNumberValue(a.Ci95.High);
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void Class(Utf8JsonWriter json, int c, ClassNames names)
    {
        json.WriteNumber("class", c);
        json.WriteString("label", names.Label(c));
        if (names.Synset(c) is { } s) json.WriteString("synset", s);
    }

    private static void Strings(Utf8JsonWriter json, string name, IEnumerable<string> items)
    {
        json.WriteStartArray(name);
        foreach (var item in items) json.WriteStringValue(item);
        json.WriteEndArray();
    }
}
