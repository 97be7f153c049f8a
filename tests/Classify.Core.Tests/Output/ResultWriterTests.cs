using System.Text;
using System.Text.Json;
using Classify.Inference;
using Classify.Output;
using Classify.Pipeline;

namespace Classify.Tests.Output;

public sealed class ResultWriterTests
{
    private static readonly ImageResult Cat = ImageResult.Ok("cats/chelsea.png",
    [
        new Prediction("Egyptian cat", 285, 0.923456f, "n02124075"),
        new Prediction("tabby, tabby cat", 281, 0.05f, "n02123045"),
        new Prediction("tiger cat", 282, 0.000004f, "n02123159"),
    ]);

    private const string Sha = "33147f1f4686c6340ca748e14629627c6c96084e0ca0cb037aeca355349f6164";
    private static readonly Provenance Made = new("squeezenet1.1", Sha, "1.0.0+252f5c5eefc9");

    private static readonly ImageResult Broken = ImageResult.Failed("b, \"odd\".png",
        new ClassifyException(ExitCode.ImageCorrupt, "b, \"odd\".png", "truncated PNG file"));

    private static string Write(OutputFormat format, bool singleInput, params ImageResult[] results)
    {
        var text = new StringWriter { NewLine = "\n" };
        var writer = ResultWriter.Create(format, text, new RunInfo(Made, "onnx", "cpu", 3), singleInput);
        foreach (var r in results) writer.Write(r);
        writer.Complete();
        return text.ToString();
    }

    [Fact]
    public void Text_for_one_image_is_classify_image_py_lines_only()
    {
        Assert.Equal(
            "Egyptian cat (score = 0.92346)\n" +
            "tabby, tabby cat (score = 0.05000)\n" +
            "tiger cat (score = 0.00000)\n",
            Write(OutputFormat.Text, singleInput: true, Cat));
    }

    [Theory]
    [InlineData(0.015625f, "0.01562")]  // exact binary tie: printf rounds half to even (expected values from Python's "%.5f" % float32)
    [InlineData(0.046875f, "0.04688")]
    [InlineData(0.123455f, "0.12346")]  // the float is 0.1234550029...: above the tie
    [InlineData(0.123445f, "0.12344")]  // the float is 0.1234449967...: below the tie
    [InlineData(0.999995f, "0.99999")]  // the float is 0.9999949932...
    [InlineData(0.000005f, "0.00000")]
    [InlineData(1f, "1.00000")]
    public void Text_scores_round_like_printf(float score, string expected)
    {
        var text = Write(OutputFormat.Text, true, ImageResult.Ok("a.png", [new Prediction("x", 0, score)]));

        Assert.Equal($"x (score = {expected})\n", text);
    }

    [Fact]
    public void Text_for_several_images_names_each_and_its_error()
    {
        Assert.Equal(
            "==> cats/chelsea.png <==\n" +
            "Egyptian cat (score = 0.92346)\n" +
            "tabby, tabby cat (score = 0.05000)\n" +
            "tiger cat (score = 0.00000)\n" +
            "\n" +
            "==> b, \"odd\".png <==\n" +
            "error: b, \"odd\".png: truncated PNG file\n",
            Write(OutputFormat.Text, singleInput: false, Cat, Broken));
    }

    [Fact]
    public void Json_is_one_document_with_the_run_and_every_result()
    {
        using var doc = JsonDocument.Parse(Write(OutputFormat.Json, false, Cat, Broken));
        var root = doc.RootElement;

        Assert.Equal(
            ["model", "model_sha256", "backend", "device", "classify_version", "top_k", "results"],
            root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("squeezenet1.1", root.GetProperty("model").GetString());
        Assert.Equal(Sha, root.GetProperty("model_sha256").GetString());
        Assert.Equal("onnx", root.GetProperty("backend").GetString());
        Assert.Equal("1.0.0+252f5c5eefc9", root.GetProperty("classify_version").GetString());
        Assert.Equal(3, root.GetProperty("top_k").GetInt32());
        var results = root.GetProperty("results");
        Assert.Equal(2, results.GetArrayLength());
        AssertCat(results[0]);
        AssertBroken(results[1]);
        // The header says it once: the results do not repeat it.
        Assert.False(results[0].TryGetProperty("model", out _));
    }

    [Fact]
    public void Json_with_no_results_is_valid()
    {
        using var doc = JsonDocument.Parse(Write(OutputFormat.Json, false));

        Assert.Equal(0, doc.RootElement.GetProperty("results").GetArrayLength());
    }

    [Fact]
    public void Jsonl_is_one_object_per_line()
    {
        var lines = Write(OutputFormat.Jsonl, false, Cat, Broken).Split('\n');

        Assert.Equal(3, lines.Length);
        Assert.Equal("", lines[2]);
        using var cat = JsonDocument.Parse(lines[0]);
        using var broken = JsonDocument.Parse(lines[1]);
        AssertCat(cat.RootElement);
        AssertBroken(broken.RootElement);
        foreach (var record in new[] { cat.RootElement, broken.RootElement })
        {
            Assert.Equal("squeezenet1.1", record.GetProperty("model").GetString());
            Assert.Equal(Sha, record.GetProperty("model_sha256").GetString());
            Assert.Equal("1.0.0+252f5c5eefc9", record.GetProperty("classify_version").GetString());
        }
    }

    [Fact]
    public void A_prediction_without_a_synset_has_no_synset_field_and_an_empty_csv_cell()
    {
        var plain = ImageResult.Ok("a.png", [new Prediction("x", 0, 0.5f)]);

        Assert.DoesNotContain("synset", Write(OutputFormat.Jsonl, false, plain));
        Assert.Equal($"a.png,1,x,0,0.500000,,,,,squeezenet1.1,{Sha},1.0.0+252f5c5eefc9", Write(OutputFormat.Csv, false, plain).Split('\n')[1]);
    }

    [Theory]
    [InlineData(OutputFormat.Json)]
    [InlineData(OutputFormat.Jsonl)]
    public void Json_keeps_non_ascii_names_readable_and_intact(OutputFormat format)
    {
        var result = ImageResult.Ok("fotos/gâteau \u00e9t\u00e9 \u732b.jpg", [new Prediction("crème brûlée", 7, 0.5f)]);

        var text = Write(format, false, result);

        Assert.Contains("gâteau été 猫.jpg", text);
        using var doc = JsonDocument.Parse(text);
        var parsed = format == OutputFormat.Json ? doc.RootElement.GetProperty("results")[0] : doc.RootElement;
        Assert.Equal("fotos/gâteau été 猫.jpg", parsed.GetProperty("file").GetString());
        Assert.Equal("crème brûlée", parsed.GetProperty("predictions")[0].GetProperty("label").GetString());
    }

    [Fact]
    public void Json_streamed_past_its_flush_threshold_stays_valid()
    {
        // Thousands of results with multi-byte names cross the writer's 64 KiB flushes several times.
        var results = Enumerable.Range(0, 3000).Select(i => ImageResult.Ok($"猫/{i:D5}é.png", Cat.Predictions!)).ToArray();

        using var doc = JsonDocument.Parse(Write(OutputFormat.Json, false, results));

        var parsed = doc.RootElement.GetProperty("results");
        Assert.Equal(3000, parsed.GetArrayLength());
        Assert.Equal("猫/02999é.png", parsed[2999].GetProperty("file").GetString());
    }

    private static void AssertCat(JsonElement result)
    {
        Assert.Equal("cats/chelsea.png", result.GetProperty("file").GetString());
        Assert.False(result.TryGetProperty("error", out _));
        var predictions = result.GetProperty("predictions");
        Assert.Equal(3, predictions.GetArrayLength());
        Assert.Equal("Egyptian cat", predictions[0].GetProperty("label").GetString());
        Assert.Equal("n02124075", predictions[0].GetProperty("synset").GetString());
        Assert.Equal(285, predictions[0].GetProperty("class").GetInt32());
        Assert.Equal(0.923456, predictions[0].GetProperty("score").GetDouble(), 1e-6);
        Assert.Equal("tabby, tabby cat", predictions[1].GetProperty("label").GetString());
    }

    private static void AssertBroken(JsonElement result)
    {
        Assert.Equal("b, \"odd\".png", result.GetProperty("file").GetString());
        Assert.False(result.TryGetProperty("predictions", out _));
        var error = result.GetProperty("error");
        Assert.Equal(ExitCode.ImageCorrupt, error.GetProperty("code").GetInt32());
        Assert.Equal("ImageCorrupt", error.GetProperty("kind").GetString());
        Assert.Equal("b, \"odd\".png: truncated PNG file", error.GetProperty("message").GetString());
    }

    [Fact]
    public void Machine_formats_print_the_same_fixed_point_digits()
    {
        var tiny = ImageResult.Ok("a.png", [new Prediction("x", 0, 0.000074f), new Prediction("y", 1, 1f)]);

        Assert.Equal("{\"file\":\"a.png\",\"predictions\":[{\"label\":\"x\",\"class\":0,\"score\":0.000074},{\"label\":\"y\",\"class\":1,\"score\":1.000000}]," +
            $"\"model\":\"squeezenet1.1\",\"model_sha256\":\"{Sha}\",\"classify_version\":\"1.0.0+252f5c5eefc9\"}}\n",
            Write(OutputFormat.Jsonl, false, tiny));
        Assert.Contains("\"score\": 0.000074", Write(OutputFormat.Json, false, tiny));
        Assert.Equal([$"a.png,1,x,0,0.000074,,,,,squeezenet1.1,{Sha},1.0.0+252f5c5eefc9", $"a.png,2,y,1,1.000000,,,,,squeezenet1.1,{Sha},1.0.0+252f5c5eefc9"],
            Write(OutputFormat.Csv, false, tiny).Split('\n')[1..3]);
    }

    [Fact]
    public void Csv_has_a_header_and_one_row_per_prediction_or_error()
    {
        var rows = ParseCsv(Write(OutputFormat.Csv, false, Cat, Broken));

        Assert.Equal(
        [
            ["file", "rank", "label", "class", "score", "error", "error_code", "error_kind", "synset", "model", "model_sha256", "classify_version"],
            ["cats/chelsea.png", "1", "Egyptian cat", "285", "0.923456", "", "", "", "n02124075", "squeezenet1.1", Sha, "1.0.0+252f5c5eefc9"],
            ["cats/chelsea.png", "2", "tabby, tabby cat", "281", "0.050000", "", "", "", "n02123045", "squeezenet1.1", Sha, "1.0.0+252f5c5eefc9"],
            ["cats/chelsea.png", "3", "tiger cat", "282", "0.000004", "", "", "", "n02123159", "squeezenet1.1", Sha, "1.0.0+252f5c5eefc9"],
            ["b, \"odd\".png", "", "", "", "", "b, \"odd\".png: truncated PNG file", "5", "ImageCorrupt", "", "squeezenet1.1", Sha, "1.0.0+252f5c5eefc9"],
        ], rows);
    }

    /// <summary>RFC 4180: fields in double quotes may hold commas, newlines and doubled quotes.</summary>
    private static List<string[]> ParseCsv(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { row.Add(field.ToString()); field.Clear(); }
            else if (c == '\n') { row.Add(field.ToString()); field.Clear(); rows.Add([.. row]); row.Clear(); }
            else field.Append(c);
        }
        Assert.False(quoted, "unterminated quoted field");
        Assert.Equal(0, field.Length + row.Count);
        return rows;
    }
}
