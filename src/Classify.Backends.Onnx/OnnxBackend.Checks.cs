using Classify.Inference;
using Classify.Models;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Classify.Backends.Onnx;

/// <summary>What a model must be for its manifest: the input, the classifier's output and, with --features, the embedding.</summary>
public sealed partial class OnnxBackend
{
    /// <summary>Checks the model against its manifest; returns the largest batch the model takes.</summary>
    private static int CheckSignature(InferenceSession session, ModelManifest manifest, string path)
    {
        var spec = manifest.Input;
        if (!session.InputMetadata.TryGetValue(spec.Name, out var input))
            throw new ClassifyException(ExitCode.ManifestInvalid, path,
                $"the model has no input '{spec.Name}' (it has: {string.Join(", ", session.InputMetadata.Keys)}); fix input.name in {ModelManifest.FileName}");
        if (!session.OutputMetadata.TryGetValue(manifest.Output.Name, out var output))
            throw new ClassifyException(ExitCode.ManifestInvalid, path,
                $"the model has no output '{manifest.Output.Name}' (it has: {string.Join(", ", session.OutputMetadata.Keys)}); fix output.name in {ModelManifest.FileName}");
        var expectedType = spec.ElementType == TensorElementKind.Float32 ? TensorElementType.Float : TensorElementType.UInt8;
        if (input.ElementDataType != expectedType)
            throw new ClassifyException(ExitCode.ManifestInvalid, path,
                $"input '{spec.Name}' is {input.ElementDataType}, the manifest says {spec.ElementType}");
        int[] expected = spec.Layout == TensorLayout.Nchw ? [3, spec.Height, spec.Width] : [spec.Height, spec.Width, 3];
        var dims = input.Dimensions;
        if (dims.Length != 4 || !dims.Skip(1).Zip(expected).All(p => p.First <= 0 || p.First == p.Second))
            throw new ClassifyException(ExitCode.ManifestInvalid, path,
                $"input '{spec.Name}' has shape [{string.Join(",", dims)}], the manifest says [N,{string.Join(",", expected)}] ({spec.Layout})");
        if (output.ElementDataType != TensorElementType.Float)
            throw new ClassifyException(ExitCode.ManifestInvalid, path, $"output '{manifest.Output.Name}' is {output.ElementDataType}, float32 expected");
        var classes = output.Dimensions.Skip(1).Aggregate(1L, (a, d) => a * Math.Max(d, 1));
        Labels.CheckOutputSize(manifest, classes, path);
        return dims[0] > 0 ? dims[0] : int.MaxValue;
    }

    /// <summary>--features: the manifest names the embedding, the model has it, and it is a pooled float vector.</summary>
    private static void CheckFeatures(InferenceSession session, ModelManifest manifest, string path)
    {
        if (manifest.Output.Features is not { } name)
            throw new ClassifyException(ExitCode.ManifestInvalid, path,
                $"--features: model {manifest.Name} names no embedding (output.features in {ModelManifest.FileName}); add one with classify models add FILE.onnx --features TENSOR");
        if (!session.OutputMetadata.TryGetValue(name, out var output))
            throw new ClassifyException(ExitCode.ManifestInvalid, path,
                $"--features: the model has no output '{name}' (it has: {string.Join(", ", session.OutputMetadata.Keys)}); fix output.features in {ModelManifest.FileName}, or add it with classify models add FILE.onnx --features TENSOR");
        try
        {
            Graph.FeatureOutput.Shape(output, name, name);
        }
        catch (InvalidDataException e)
        {
            throw new ClassifyException(ExitCode.ManifestInvalid, path, $"output.features: {e.Message}");
        }
    }
}
