namespace Classify.Models;

/// <summary>
/// The preprocessing of the common training recipes, for `classify models add`: what a user knows about a model
/// ("it is a torchvision model") turned into the manifest's resize, channel order and normalisation. The input's
/// name, size, layout and type are read from the model itself.
/// </summary>
public static class ModelPresets
{
    public sealed record Preset(string Name, ChannelOrder Channels, float Scale, float[] Mean, float[] Std, int DefaultSize, double? CentralFraction)
    {
        /// <summary>The manifest's resize for a model of <paramref name="size"/> pixels.</summary>
        public ResizeSpec Resize(int size) => CentralFraction is { } f
            ? new ResizeSpec { Mode = ResizeMode.CentralCrop, Fraction = f }
            // torchvision's and Caffe's Resize(256) + CenterCrop(224), scaled to the model's size.
            : new ResizeSpec { Mode = ResizeMode.CenterCrop, ShorterSide = (int)Math.Round(size * 256 / 224.0) };
    }

    public static readonly IReadOnlyList<Preset> All =
    [
        new("torchvision", ChannelOrder.Rgb, 1 / 255f, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 224, null),
        new("inception", ChannelOrder.Rgb, 1, [127.5f, 127.5f, 127.5f], [127.5f, 127.5f, 127.5f], 299, 0.875),
        new("caffe-bgr", ChannelOrder.Bgr, 1, [103.939f, 116.779f, 123.68f], [1, 1, 1], 224, null),
        new("tf-mobilenet", ChannelOrder.Rgb, 1, [127.5f, 127.5f, 127.5f], [127.5f, 127.5f, 127.5f], 224, 0.875),
    ];

    public static Preset? Find(string name) => All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
}
