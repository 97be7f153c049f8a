using System.Text.Json;
using System.Text.Json.Serialization;

namespace Classify.Models;

/// <summary>
/// Everything preprocessing and decoding need to run one model, read from the <c>model.json</c> beside the
/// model files. One code path runs every model from its manifest; nothing model-specific lives in code.
/// </summary>
public sealed class ModelManifest
{
    public const string FileName = "model.json";

    public required string Name { get; init; }
    public string? Description { get; init; }

    /// <summary>Model files by format ("onnx", "torchscript"), each with its SHA-256.</summary>
    public required Dictionary<string, ModelFile> Files { get; init; }
    public required LabelsSpec Labels { get; init; }
    public required InputSpec Input { get; init; }
    public required OutputSpec Output { get; init; }

    /// <summary>The folder the manifest was read from; relative file paths resolve against it.</summary>
    [JsonIgnore] public string Directory { get; internal set; } = "";

    public string PathOf(ModelFile file) => Path.GetFullPath(Path.Combine(Directory, file.Path));

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}

public sealed class ModelFile
{
    public required string Path { get; init; }
    public required string Sha256 { get; init; }
}

public sealed class LabelsSpec
{
    public required string Path { get; init; }
    public string? Sha256 { get; init; }

    /// <summary>Index of the model output that is the first label. MobileNet's 1001 outputs start with
    /// "background" (offset 1), so label i is output i + offset and outputs below it are never reported.</summary>
    public int FirstClassOutput { get; init; }
}

public enum TensorLayout { Nchw, Nhwc }
public enum TensorElementKind { Float32, Uint8 }
public enum ChannelOrder { Rgb, Bgr }
public enum ResizeMode { Stretch, CenterCrop }
public enum OutputKind { Probabilities, Logits }

public sealed class InputSpec
{
    public required string Name { get; init; }
    public TensorLayout Layout { get; init; } = TensorLayout.Nchw;
    public TensorElementKind ElementType { get; init; } = TensorElementKind.Float32;
    public required int Width { get; init; }
    public required int Height { get; init; }
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

    /// <summary>value = (pixel * Scale - Mean[c]) / Std[c], pixel in 0..255, c in the model's channel order.</summary>
    public float Scale { get; init; } = 1f;
    public float[] Mean { get; init; } = [0f, 0f, 0f];
    public float[] Std { get; init; } = [1f, 1f, 1f];
    public ResizeSpec Resize { get; init; } = new();
}

public sealed class ResizeSpec
{
    public ResizeMode Mode { get; init; } = ResizeMode.Stretch;

    /// <summary>For <see cref="ResizeMode.CenterCrop"/>: the shorter side is resized to this, then the
    /// centre Width x Height is cut out (torchvision's Resize(256) + CenterCrop(224)).</summary>
    public int ShorterSide { get; init; }
}

public sealed class OutputSpec
{
    public required string Name { get; init; }
    public OutputKind Kind { get; init; } = OutputKind.Probabilities;
    public required int Classes { get; init; }
}
