using System.Text.Json;

namespace Classify.Models;

/// <summary>
/// Writes model.json: the other half of <see cref="ManifestReader"/>, beside it, with the same field names, so that the
/// schema lives in one folder and what is written reads back as the same manifest (ManifestWriterTests). `classify
/// models add` writes through it (issue 27: it once wrote the JSON by hand in the CLI).
/// </summary>
public static class ManifestWriter
{
    public static byte[] Write(ModelManifest m)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("name", m.Name);
            if (m.Description is { } description) json.WriteString("description", description);
            if (m.Licence is { } licence) json.WriteString("licence", licence);
            if (m.Top1 is { } top1) json.WriteNumber("top1", top1);
            json.WriteStartObject("files");
            foreach (var (format, file) in m.Files)
            {
                json.WriteStartObject(format);
                json.WriteString("path", file.Path);
                if (file.Sha256 is { } sha) json.WriteString("sha256", sha);
                json.WriteEndObject();
            }
            json.WriteEndObject();
            WriteLabels(json, m.Labels);
            WriteInput(json, m.Input);
            json.WriteStartObject("output");
            json.WriteString("name", m.Output.Name);
            json.WriteString("kind", Name(m.Output.Kind));
            json.WriteNumber("classes", m.Output.Classes);
            if (m.Output.Features is { } features) json.WriteString("features", features);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static void WriteLabels(Utf8JsonWriter json, LabelsSpec l)
    {
        json.WriteStartObject("labels");
        json.WriteString("path", l.Path);
        if (l.Sha256 is { } sha) json.WriteString("sha256", sha);
        json.WriteNumber("firstClassOutput", l.FirstClassOutput);
        if (l.Synsets is { } synsets) json.WriteString("synsets", synsets);
        if (l.SynsetsSha256 is { } synsetsSha) json.WriteString("synsetsSha256", synsetsSha);
        json.WriteEndObject();
    }

    private static void WriteInput(Utf8JsonWriter json, InputSpec i)
    {
        json.WriteStartObject("input");
        json.WriteString("name", i.Name);
        json.WriteString("layout", Name(i.Layout));
        json.WriteString("elementType", Name(i.ElementType));
        json.WriteNumber("width", i.Width);
        json.WriteNumber("height", i.Height);
        json.WriteString("channelOrder", Name(i.ChannelOrder));
        json.WriteNumber("scale", i.Scale);
        WriteNumbers(json, "mean", i.Mean);
        WriteNumbers(json, "std", i.Std);
        json.WriteStartObject("resize");
        json.WriteString("mode", Name(i.Resize.Mode));
        if (i.Resize.ShorterSide != 0) json.WriteNumber("shorterSide", i.Resize.ShorterSide);
        if (i.Resize.Fraction != 0) json.WriteNumber("fraction", i.Resize.Fraction);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteNumbers(Utf8JsonWriter json, string name, float[] values)
    {
        json.WriteStartArray(name);
        foreach (var v in values) json.WriteNumberValue(v);
        json.WriteEndArray();
    }

    /// <summary>The manifest's spelling of an enum value: lower case, words joined by '_' ("center_crop", "float32").</summary>
    public static string Name<T>(T value) where T : struct, Enum
    {
        var text = value.ToString();
        var name = new System.Text.StringBuilder(text.Length + 2);
        for (var i = 0; i < text.Length; i++)
        {
            if (i > 0 && char.IsUpper(text[i])) name.Append('_');
            name.Append(char.ToLowerInvariant(text[i]));
        }
        return name.ToString();
    }
}
