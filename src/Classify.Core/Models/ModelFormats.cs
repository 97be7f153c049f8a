namespace Classify.Models;

/// <summary>The keys of a manifest's "files": an engine's format ("onnx", "torchscript"), or that format with
/// <see cref="Fp16Suffix"/> for a half-precision copy of the same weights ("onnx-fp16", what --fp16 runs on ONNX
/// Runtime; TorchSharp converts the weights itself).</summary>
public static class ModelFormats
{
    public const string Fp16Suffix = "-fp16";

    /// <summary>The engine format of a file key: "onnx-fp16" → "onnx".</summary>
    public static string Engine(string key) => IsFp16(key) ? key[..^Fp16Suffix.Length] : key;

    public static bool IsFp16(string key) => key.EndsWith(Fp16Suffix, StringComparison.Ordinal);

    public static string Fp16(string engineFormat) => engineFormat + Fp16Suffix;
}
