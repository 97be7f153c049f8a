using System.Globalization;
using System.Text.Json;

namespace Classify.Models;

/// <summary>
/// Reads model.json with JsonDocument and explicit field mapping. JsonSerializer (even source-generated) costs a
/// cold start ~0.1 s of type loading for this one small file; this costs a few milliseconds. Property names and
/// enum values are case-insensitive, comments and trailing commas allowed; unknown properties are ignored; a
/// missing required field or a null anywhere is an error naming the field.
/// </summary>
internal static class ManifestReader
{
    private static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <exception cref="FormatException">The manifest is not valid JSON or not a valid manifest (message says why).</exception>
    public static ModelManifest Parse(ReadOnlyMemory<byte> utf8)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8, Options);
        }
        catch (JsonException e)
        {
            throw new FormatException(e.Message);
        }
        using (doc)
        {
            var root = Object(doc.RootElement, "the manifest");
            var input = Object(Required(root, "input"), "input");
            var output = Object(Required(root, "output"), "output");
            var labels = Object(Required(root, "labels"), "labels");
            var files = new Dictionary<string, ModelFile>(StringComparer.Ordinal);
            foreach (var f in Object(Required(root, "files"), "files").EnumerateObject())
            {
                var file = Object(f.Value, $"files.{f.Name}");
                files[f.Name] = new ModelFile { Path = String(Required(file, "path"), $"files.{f.Name}.path"), Sha256 = Optional(file, "sha256") is { } h ? String(h, $"files.{f.Name}.sha256") : null };
            }
            var resize = Optional(input, "resize") is { } r ? Object(r, "input.resize") : (JsonElement?)null;
            return new ModelManifest
            {
                Name = String(Required(root, "name"), "name"),
                Description = Optional(root, "description") is { } d ? String(d, "description") : null,
                Licence = Optional(root, "licence") is { } li ? String(li, "licence") : null,
                Top1 = Optional(root, "top1") is { } t1 ? Float(t1, "top1") : null,
                Files = files,
                Labels = new LabelsSpec
                {
                    Path = String(Required(labels, "path"), "labels.path"),
                    Sha256 = Optional(labels, "sha256") is { } s ? String(s, "labels.sha256") : null,
                    FirstClassOutput = Optional(labels, "firstClassOutput") is { } o ? Int(o, "labels.firstClassOutput") : 0,
                    Synsets = Optional(labels, "synsets") is { } sy ? String(sy, "labels.synsets") : null,
                    SynsetsSha256 = Optional(labels, "synsetsSha256") is { } sh ? String(sh, "labels.synsetsSha256") : null,
                },
                Input = new InputSpec
                {
                    Name = String(Required(input, "name"), "input.name"),
                    Layout = Optional(input, "layout") is { } l ? Enum<TensorLayout>(l, "input.layout") : TensorLayout.Nchw,
                    ElementType = Optional(input, "elementType") is { } t ? Enum<TensorElementKind>(t, "input.elementType") : TensorElementKind.Float32,
                    Width = Int(Required(input, "width"), "input.width"),
                    Height = Int(Required(input, "height"), "input.height"),
                    ChannelOrder = Optional(input, "channelOrder") is { } c ? Enum<ChannelOrder>(c, "input.channelOrder") : ChannelOrder.Rgb,
                    Scale = Optional(input, "scale") is { } sc ? Float(sc, "input.scale") : 1f,
                    Mean = Optional(input, "mean") is { } m ? Floats(m, "input.mean") : [0f, 0f, 0f],
                    Std = Optional(input, "std") is { } sd ? Floats(sd, "input.std") : [1f, 1f, 1f],
                    Resize = resize is { } rs
                        ? new ResizeSpec
                        {
                            Mode = Optional(rs, "mode") is { } mode ? Enum<ResizeMode>(mode, "input.resize.mode") : ResizeMode.Stretch,
                            ShorterSide = Optional(rs, "shorterSide") is { } ss ? Int(ss, "input.resize.shorterSide") : 0,
                            Fraction = Optional(rs, "fraction") is { } fr ? Double(fr, "input.resize.fraction") : 0,
                        }
                        : new ResizeSpec(),
                },
                Output = new OutputSpec
                {
                    Name = String(Required(output, "name"), "output.name"),
                    Kind = Optional(output, "kind") is { } k ? Enum<OutputKind>(k, "output.kind") : OutputKind.Probabilities,
                    Classes = Int(Required(output, "classes"), "output.classes"),
                    Features = Optional(output, "features") is { } fe ? String(fe, "output.features") : null,
                },
            };
        }
    }

    private static JsonElement? Optional(JsonElement obj, string name)
    {
        foreach (var p in obj.EnumerateObject())
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
                return p.Value.ValueKind == JsonValueKind.Null ? throw new FormatException($"\"{name}\" must not be null") : p.Value;
        return null;
    }

    private static JsonElement Required(JsonElement obj, string name) =>
        Optional(obj, name) ?? throw new FormatException($"the required field \"{name}\" is missing");

    private static JsonElement Object(JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.Object ? e : throw new FormatException($"{what} must be a JSON object, not {e.ValueKind}");

    private static string String(JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new FormatException($"\"{what}\" must be a string");

    private static int Int(JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) ? v : throw new FormatException($"\"{what}\" must be an integer");

    private static float Float(JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.Number ? e.GetSingle() : throw new FormatException($"\"{what}\" must be a number");

    private static double Double(JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.Number ? e.GetDouble() : throw new FormatException($"\"{what}\" must be a number");

    private static float[] Floats(JsonElement e, string what) =>
        e.ValueKind == JsonValueKind.Array
            ? e.EnumerateArray().Select(v => Float(v, what)).ToArray()
            : throw new FormatException($"\"{what}\" must be an array of numbers");

    private static T Enum<T>(JsonElement e, string what) where T : struct, Enum
    {
        // "center_crop" and "CenterCrop" both name ResizeMode.CenterCrop.
        var text = e.ValueKind == JsonValueKind.String ? e.GetString()!.Replace("_", "", StringComparison.Ordinal) : null;
        if (text is not null && System.Enum.TryParse<T>(text, ignoreCase: true, out var value) && System.Enum.IsDefined(value) && !char.IsDigit(text[0]))
            return value;
        var names = string.Join(", ", System.Enum.GetNames<T>().Select(n => n.ToLower(CultureInfo.InvariantCulture)));
        throw new FormatException($"\"{what}\" must be one of {names}");
    }
}
