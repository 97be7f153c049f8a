using System.Text;
using Classify.Models;

namespace Classify.Backends.Onnx;

/// <summary>
/// A small ONNX model that turns resized pixels ([N,H,W,3] uint8 RGB) into a model's input exactly as the managed
/// <see cref="Preprocessing.TensorWriter"/> does: Cast to float32, Gather for the channel order, Mul and Add with the
/// per-channel constants (two operations, the same float32 rounding), Transpose to NCHW. ONNX Runtime runs it on the
/// model's device, so a GPU gets a quarter of the float32 bytes. Written here as protobuf by hand (a dozen fields of
/// onnx.proto): no ONNX or protobuf library is needed for five nodes.
/// </summary>
internal static class PreprocessGraph
{
    public const string InputName = "pixels";
    public const string OutputName = "input";

    public static byte[] Build(InputSpec spec)
    {
        var mul = spec.Multipliers();
        var add = spec.Offsets();
        var order = spec.SourceChannels().Select(c => (long)c).ToArray();
        var nchw = spec.Layout == TensorLayout.Nchw;

        var graph = new Proto();
        graph.Message(1, Node("Cast", [InputName], ["f"], a => a.Message(5, Attribute("to", i: 1)))); // FLOAT
        graph.Message(1, Node("Gather", ["f", "order"], ["g"], a => a.Message(5, Attribute("axis", i: 3))));
        graph.Message(1, Node("Mul", ["g", "mul"], ["m"]));
        graph.Message(1, Node("Add", ["m", "add"], [nchw ? "a" : OutputName]));
        if (nchw)
            graph.Message(1, Node("Transpose", ["a"], [OutputName], a => a.Message(5, Attribute("perm", ints: [0, 3, 1, 2]))));
        graph.String(2, "classify-preprocess");
        graph.Message(5, Tensor("order", 7, [3], order.SelectMany(BitConverter.GetBytes).ToArray()));  // INT64
        graph.Message(5, Tensor("mul", 1, [3], mul.SelectMany(BitConverter.GetBytes).ToArray()));     // FLOAT
        graph.Message(5, Tensor("add", 1, [3], add.SelectMany(BitConverter.GetBytes).ToArray()));
        graph.Message(11, Value(InputName, 2, [-1, spec.Height, spec.Width, 3]));                       // UINT8
        graph.Message(12, Value(OutputName, 1, nchw ? [-1, 3, spec.Height, spec.Width] : [-1, spec.Height, spec.Width, 3]));

        var model = new Proto();
        model.Varint(1, 7);                       // ir_version
        model.String(2, "classify");              // producer_name
        model.Message(7, graph);
        var opset = new Proto();
        opset.String(1, "");
        opset.Varint(2, 13);
        model.Message(8, opset);
        return model.ToArray();
    }

    private static Proto Node(string op, string[] inputs, string[] outputs, Action<Proto>? attributes = null)
    {
        var n = new Proto();
        foreach (var i in inputs) n.String(1, i);
        foreach (var o in outputs) n.String(2, o);
        n.String(3, op);
        n.String(4, op);
        attributes?.Invoke(n);
        return n;
    }

    private static Proto Attribute(string name, long? i = null, long[]? ints = null)
    {
        var a = new Proto();
        a.String(1, name);
        if (i is { } value)
        {
            a.Varint(3, value);
            a.Varint(20, 2); // INT
        }
        else
        {
            foreach (var v in ints!) a.Varint(8, v);
            a.Varint(20, 7); // INTS
        }
        return a;
    }

    private static Proto Tensor(string name, int type, long[] dims, byte[] raw)
    {
        var t = new Proto();
        foreach (var d in dims) t.Varint(1, d);
        t.Varint(2, type);
        t.String(8, name);
        t.Bytes(9, raw);
        return t;
    }

    private static Proto Value(string name, int type, long[] dims)
    {
        var shape = new Proto();
        foreach (var d in dims)
        {
            var dim = new Proto();
            if (d < 0) dim.String(2, "N"); else dim.Varint(1, d);
            shape.Message(1, dim);
        }
        var tensor = new Proto();
        tensor.Varint(1, type);
        tensor.Message(2, shape);
        var typeProto = new Proto();
        typeProto.Message(1, tensor);
        var v = new Proto();
        v.String(1, name);
        v.Message(2, typeProto);
        return v;
    }

    /// <summary>The protobuf wire format, the three kinds used here: varint, length-delimited, nested message.</summary>
    private sealed class Proto
    {
        private readonly MemoryStream _bytes = new();

        public void Varint(int field, long value)
        {
            Key(field, 0);
            Raw((ulong)value);
        }

        public void Bytes(int field, byte[] value)
        {
            Key(field, 2);
            Raw((ulong)value.Length);
            _bytes.Write(value);
        }

        public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public void Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private void Key(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private void Raw(ulong v)
        {
            while (v >= 0x80)
            {
                _bytes.WriteByte((byte)(v | 0x80));
                v >>= 7;
            }
            _bytes.WriteByte((byte)v);
        }
    }
}
