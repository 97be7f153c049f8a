namespace Classify.Models;

/// <summary>
/// Everything preprocessing and decoding need to run one model, read from the <c>model.json</c> beside the
/// model files. One code path runs every model from its manifest; nothing model-specific lives in code.
/// </summary>
public sealed class ModelManifest
{
    public const string FileName = "model.json";

    public required string Name { get; set; }
    public string? Description { get; set; }

    /// <summary>The licence of the weights, and the published ImageNet top-1 (%), for `classify models list`.</summary>
    public string? Licence { get; set; }
    public double? Top1 { get; set; }

    /// <summary>Model files by format ("onnx", "torchscript"), each with its SHA-256.</summary>
    public required Dictionary<string, ModelFile> Files { get; set; }
    public required LabelsSpec Labels { get; set; }
    public required InputSpec Input { get; set; }
    public required OutputSpec Output { get; set; }

    /// <summary>The folder the manifest was read from; relative file paths resolve against it.</summary>
    public string Directory { get; internal set; } = "";

    public string PathOf(ModelFile file) => PathOf(file.Path);

    /// <summary>A path from the manifest (relative to its folder) as a full path.</summary>
    public string PathOf(string relative) => Path.GetFullPath(Path.Combine(Directory, relative));
}


public sealed class ModelFile
{
    public required string Path { get; set; }

    /// <summary>Checked before every load when present; optional in a user's own manifest.</summary>
    public string? Sha256 { get; set; }
}

public sealed class LabelsSpec
{
    public required string Path { get; set; }
    public string? Sha256 { get; set; }

    /// <summary>Index of the model output that is the first label. MobileNet's 1001 outputs start with
    /// "background" (offset 1), so label i is output i + offset and outputs below it are never reported.</summary>
    public int FirstClassOutput { get; set; }

    /// <summary>Optional: a file of one WordNet synset id per label, in label order ("n01440764 tench, Tinca tinca"; the
    /// first word is the id). Label text is not unique across datasets ("crane" is a bird and a machine in ImageNet
    /// itself); the id is what results from different label files or models can be joined on.</summary>
    public string? Synsets { get; set; }
    public string? SynsetsSha256 { get; set; }
}

public enum TensorLayout { Nchw, Nhwc }
public enum TensorElementKind { Float32, Uint8 }
public enum ChannelOrder { Rgb, Bgr }
public enum ResizeMode { Stretch, CenterCrop, CentralCrop }
public enum OutputKind { Probabilities, Logits }

public sealed class InputSpec
{
    public required string Name { get; set; }
    public TensorLayout Layout { get; set; } = TensorLayout.Nchw;
    public TensorElementKind ElementType { get; set; } = TensorElementKind.Float32;
    public required int Width { get; set; }
    public required int Height { get; set; }
    public ChannelOrder ChannelOrder { get; set; } = ChannelOrder.Rgb;

    /// <summary>value = (pixel * Scale - Mean[c]) / Std[c], pixel in 0..255, c in the model's channel order.</summary>
    public float Scale { get; set; } = 1f;
    public float[] Mean { get; set; } = [0f, 0f, 0f];
    public float[] Std { get; set; } = [1f, 1f, 1f];
    public ResizeSpec Resize { get; set; } = new();

    /// <summary>The normalisation folded into one multiply and one add per value, value = pixel * Multipliers[c] +
    /// Offsets[c]: the one definition of the arithmetic that the CPU writer and both device paths must share bit for bit.</summary>
    public float[] Multipliers() => [Scale / Std[0], Scale / Std[1], Scale / Std[2]];

    /// <inheritdoc cref="Multipliers"/>
    public float[] Offsets() => [-Mean[0] / Std[0], -Mean[1] / Std[1], -Mean[2] / Std[2]];

    /// <summary>For each of the model's channels, the channel of an RGB pixel it takes.</summary>
    public int[] SourceChannels() => ChannelOrder == ChannelOrder.Bgr ? [2, 1, 0] : [0, 1, 2];

    /// <summary>The same picture as packed RGB bytes (NHWC uint8, no normalisation): what a backend that preprocesses on
    /// its device takes.</summary>
    public InputSpec AsPixels() => new()
    {
        Name = Name, Layout = TensorLayout.Nhwc, ElementType = TensorElementKind.Uint8, Width = Width, Height = Height,
        ChannelOrder = ChannelOrder.Rgb, Scale = 1, Mean = [0, 0, 0], Std = [1, 1, 1], Resize = Resize,
    };
}

public sealed class ResizeSpec
{
    public ResizeMode Mode { get; set; } = ResizeMode.Stretch;

    /// <summary>For <see cref="ResizeMode.CenterCrop"/>: the shorter side is resized to this, then the
    /// centre Width x Height is cut out (torchvision's Resize(256) + CenterCrop(224)).</summary>
    public int ShorterSide { get; set; }

    /// <summary>For <see cref="ResizeMode.CentralCrop"/>: the central fraction of each side that is cut out of the image
    /// and then stretched to Width x Height (TF slim's eval preprocessing, tf.image.central_crop then a bilinear
    /// resize, which MobileNet's published accuracies were measured with).</summary>
    public double Fraction { get; set; }
}

public sealed class OutputSpec
{
    public required string Name { get; set; }
    public OutputKind Kind { get; set; } = OutputKind.Probabilities;
    public required int Classes { get; set; }

    /// <summary>The graph output that is the model's embedding (a TorchScript model's forward then returns the pair
    /// (scores, embedding)): the pooled activations
    /// before the classifier, which --features writes; null where the model has none.</summary>
    public string? Features { get; set; }
}
