using Classify.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Classify.Backends.Onnx.Graph;

/// <summary>
/// Gives a classifier a second output, its embedding (the pooled activations before the classifier), for --features.
/// The spec names either a tensor the graph has (MobileNet's average pool: <c>op73_average_pool_2d</c>), or one node to
/// make it from existing tensors: <c>GlobalAveragePool(fire9/concat_2)</c> (SqueezeNet, whose last convolution is the
/// classifier), <c>DequantizeLinear(t192,t192_scale,t192_zp)</c> (a quantised graph's uint8 pool), <c>Flatten(x)</c>.
/// A made node's output is called <see cref="MadeName"/>. The output's element type is what ONNX Runtime infers, written
/// into the file; it must be float32 or float16, and one value per image and channel (a pooled map, [N,C] or [N,C,1,1]).
/// </summary>
public static class FeatureOutput
{
    public const string MadeName = "features";

    private static readonly string[] Operators = ["GlobalAveragePool", "DequantizeLinear", "Flatten"];

    /// <summary>What the edit gave: the output's name, its width (values per image) and whether it is float16.</summary>
    public sealed record Result(string Output, long Width, bool Half, byte[] Model);

    /// <summary>The node a spec asks for, or null for a plain tensor name.</summary>
    public static OnnxGraphEditor.Node? Parse(string spec)
    {
        var open = spec.IndexOf('(');
        if (open < 0 || !spec.EndsWith(')'))
            return null;
        var op = spec[..open].Trim();
        if (!Operators.Contains(op, StringComparer.Ordinal))
            throw new InvalidDataException($"--features {spec}: {op} is not one of {string.Join(", ", Operators)} (or give a tensor's name)");
        var inputs = spec[(open + 1)..^1].Split(',', StringSplitOptions.TrimEntries);
        if (inputs.Any(string.IsNullOrEmpty))
            throw new InvalidDataException($"--features {spec}: an empty input name");
        return new OnnxGraphEditor.Node(op, inputs);
    }

    /// <summary>The output a spec exposes, or the model as it is when <paramref name="model"/> has it already.</summary>
    public static Result Add(byte[] model, string spec)
    {
        var node = Parse(spec);
        var name = node is null ? spec : MadeName;
        var names = OnnxGraphEditor.Names(model);
        // One embedding per model: another one exposed before (a second output) gives way to this one.
        if (names.Outputs.Count > 1 && names.Outputs[1] != name)
        {
            model = OnnxGraphEditor.KeepFirstOutput(model);
            names = OnnxGraphEditor.Names(model);
        }
        var edited = names.Outputs.Contains(name) ? model : OnnxGraphEditor.AddOutput(model, name, 0, node);
        var (width, half) = Check(edited, name, spec);
        if (edited != model)
            edited = OnnxGraphEditor.AddOutput(model, name, half ? OnnxGraphEditor.Float16 : OnnxGraphEditor.Float, node);
        return new Result(name, width, half, edited);
    }

    /// <summary>Loads the model in ONNX Runtime and reads the output's type and shape.</summary>
    private static (long Width, bool Half) Check(byte[] model, string name, string spec)
    {
        using var log = OnnxRuntimeLog.Listen(new BackendOptions());
        using var options = log.Apply(new SessionOptions { IntraOpNumThreads = 1 });
        InferenceSession session;
        try
        {
            session = new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"--features {spec}: ONNX Runtime refuses the model with that output: {e.Message.Split('\n')[0]}");
        }
        using (session)
            return Shape(session.OutputMetadata[name], name, spec);
    }

    /// <summary>The width of a features output (its values per image) and whether it is float16; a map that is not
    /// pooled, or a type that is not float, is refused with what to name instead.</summary>
    public static (long Width, bool Half) Shape(NodeMetadata output, string name, string spec)
    {
        var dims = output.Dimensions;
        if (output.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16))
            throw new InvalidDataException(
                $"--features {spec}: '{name}' is {output.ElementDataType}, not float: for a quantised tensor name DequantizeLinear(TENSOR,SCALE,ZERO_POINT)");
        if (dims.Length < 2 || dims.Skip(1).Any(d => d <= 0))
            throw new InvalidDataException($"--features {spec}: '{name}' has shape [{string.Join(",", dims)}]; a batch of vectors ([N,C] or [N,C,1,1]) is needed");
        if (dims.Length == 4 && (long)dims[2] * dims[3] > 1)
            throw new InvalidDataException(
                $"--features {spec}: '{name}' is a feature map [{string.Join(",", dims)}], not pooled: name GlobalAveragePool({name})");
        return (dims.Skip(1).Aggregate(1L, (a, d) => a * d), output.ElementDataType == TensorElementType.Float16);
    }
}
