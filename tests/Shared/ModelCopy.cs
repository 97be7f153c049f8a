using System.Text.Json.Nodes;

namespace Classify.Tests;

/// <summary>Copies of the bundled models in a temporary folder, with the manifest edited per test.</summary>
internal static class ModelCopy
{
    public static JsonObject ReadManifest(string model) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(TestData.ModelFolder(model), "model.json")))!.AsObject();

    /// <summary>Copies <paramref name="model"/>'s model files and manifest into <paramref name="dir"/> (the labels
    /// and synsets paths made absolute so the copy shares the bundled files), applies <paramref name="edit"/> to the
    /// manifest and returns the manifest's path.</summary>
    public static string Into(string dir, string model, Action<JsonObject>? edit = null)
    {
        var json = ReadManifest(model);
        foreach (var (_, file) in json["files"]!.AsObject())
        {
            var name = file!["path"]!.GetValue<string>();
            File.Copy(Path.Combine(TestData.ModelFolder(model), name), Path.Combine(dir, Path.GetFileName(name)));
        }
        foreach (var key in new[] { "path", "synsets" })
            if (json["labels"]![key] is { } relative)
                json["labels"]![key] = Path.GetFullPath(Path.Combine(TestData.ModelFolder(model), relative.GetValue<string>()));
        edit?.Invoke(json);
        var path = Path.Combine(dir, "model.json");
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    public static string ModelFile(string manifestPath, string format = "onnx")
    {
        var json = JsonNode.Parse(File.ReadAllText(manifestPath))!;
        return Path.Combine(Path.GetDirectoryName(manifestPath)!, json["files"]![format]!["path"]!.GetValue<string>());
    }

    public static string Sha256(string path) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
}
