using Classify.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Classify.Backends.Onnx;

/// <summary>What `classify models add` needs to know of a user's model, read by ONNX Runtime itself.</summary>
public sealed record OnnxModelInfo(string Input, bool InputIsUint8, IReadOnlyList<int> InputDims, string Output, long Classes, bool OutputsProbabilities)
{
    /// <summary>A second graph output, the model's embedding for --features (its name; null: one output only).</summary>
    public string? Features { get; init; }

    /// <summary>Opens the model on the CPU, reads its one input and one output, and runs it once on a blank image:
    /// outputs that are all in [0, 1] and sum to 1 are probabilities (a softmax is in the graph), others are logits.</summary>
    public static OnnxModelInfo Read(string path)
    {
        using var log = OnnxRuntimeLog.Listen(new BackendOptions());
        using var options = log.Apply(new SessionOptions { IntraOpNumThreads = 1 });
        InferenceSession session;
        try
        {
            session = new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ClassifyException(ExitCode.ModelCorrupt, path, $"ONNX Runtime cannot load the model: {e.Message}", e);
        }
        using (session)
        {
            // A second output is the embedding (--features, appended after the classifier's by FeatureOutput).
            if (session.InputMetadata.Count != 1 || session.OutputMetadata.Count is not (1 or 2))
                throw new ClassifyException(ExitCode.ManifestInvalid, path,
                    $"the model has {session.InputMetadata.Count} inputs and {session.OutputMetadata.Count} outputs; an image classifier has one of each, and perhaps its embedding as a second output (write model.json by hand to choose)");
            var (inputName, input) = session.InputMetadata.Single();
            var (outputName, output) = session.OutputMetadata.First();
            var features = session.OutputMetadata.Count == 2 ? session.OutputMetadata.Last() : default;
            if (features.Key is { } name)
            {
                try { Graph.FeatureOutput.Shape(features.Value, name, name); }
                catch (InvalidDataException e) { throw new ClassifyException(ExitCode.ManifestInvalid, path, $"its second output is no embedding: {e.Message}"); }
            }
            var uint8 = input.ElementDataType == TensorElementType.UInt8;
            if (!uint8 && input.ElementDataType != TensorElementType.Float)
                throw new ClassifyException(ExitCode.ManifestInvalid, path, $"input '{inputName}' is {input.ElementDataType}; classify feeds float32 or uint8");
            if (input.Dimensions.Length != 4)
                throw new ClassifyException(ExitCode.ManifestInvalid, path, $"input '{inputName}' has shape [{string.Join(",", input.Dimensions)}]; an image batch has 4 dimensions");
            if (output.ElementDataType != TensorElementType.Float)
                throw new ClassifyException(ExitCode.ManifestInvalid, path, $"output '{outputName}' is {output.ElementDataType}, float32 expected");
            var dims = input.Dimensions.Select(d => d > 0 ? d : 1).ToArray();
            dims[0] = 1;
            var count = dims.Aggregate(1, (a, d) => a * d);
            using var value = uint8
                ? OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat((byte)128, count).ToArray(), dims.Select(d => (long)d).ToArray())
                : OrtValue.CreateTensorValueFromMemory(new float[count], dims.Select(d => (long)d).ToArray());
            using var run = new RunOptions();
            using var results = session.Run(run, [inputName], [value], [outputName]);
            var scores = results[0].GetTensorDataAsSpan<float>();
            double sum = 0;
            var inUnitRange = true;
            foreach (var s in scores)
            {
                sum += s;
                inUnitRange &= s is >= 0 and <= 1;
            }
            return new OnnxModelInfo(inputName, uint8, input.Dimensions, outputName, scores.Length, inUnitRange && Math.Abs(sum - 1) < 1e-3)
            {
                Features = features.Key,
            };
        }
    }
}
