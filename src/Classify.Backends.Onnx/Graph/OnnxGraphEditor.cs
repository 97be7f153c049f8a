using System.Text;

namespace Classify.Backends.Onnx.Graph;

/// <summary>
/// A second graph output for an ONNX model without the onnx package: an ONNX file is a protobuf ModelProto, and adding an
/// output is appending to its GraphProto (field 7): a node (GraphProto field 1, NodeProto) where the tensor has to be
/// made, and a ValueInfoProto (field 12: {1: name, 2: type}). Nothing else in the file changes, so the classifier's
/// nodes, weights and output stay byte for byte what they were. Only the wire format is read: field numbers from
/// onnx.proto (ModelProto.graph = 7; GraphProto.node = 1, input = 11, output = 12, initializer = 5; NodeProto.input = 1,
/// output = 2, op_type = 4; ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type = 1; Tensor.elem_type = 1).
/// </summary>
public static class OnnxGraphEditor
{
    /// <summary>ONNX's TensorProto.DataType values this editor writes.</summary>
    public const int Float = 1, Float16 = 10;

    /// <summary>The names of the graph's tensors: node outputs, graph inputs and initializers, and its outputs.</summary>
    public sealed record GraphNames(HashSet<string> Tensors, List<string> Outputs, List<string> Inputs);

    public static GraphNames Names(ReadOnlySpan<byte> model)
    {
        var graph = Graph(model, out _, out _);
        var tensors = new HashSet<string>(StringComparer.Ordinal);
        var outputs = new List<string>();
        var inputs = new List<string>();
        var reader = new ProtoReader(graph);
        while (reader.Next(out var field, out var wire, out var value, out _))
        {
            switch (field)
            {
                case 1 when wire == 2:
                    var node = new ProtoReader(value);
                    while (node.Next(out var f, out var w, out var v, out _))
                        if (f == 2 && w == 2) tensors.Add(Encoding.UTF8.GetString(v));
                    break;
                case 5 when wire == 2:
                    if (StringField(value, 8) is { } init) tensors.Add(init);
                    break;
                case 11 when wire == 2:
                    if (StringField(value, 1) is { } input) { tensors.Add(input); inputs.Add(input); }
                    break;
                case 12 when wire == 2:
                    if (StringField(value, 1) is { } output) outputs.Add(output);
                    break;
            }
        }
        return new GraphNames(tensors, outputs, inputs);
    }

    /// <summary>
    /// The model with <paramref name="output"/> added as a graph output of element type <paramref name="elementType"/>
    /// (0: no type written, for ONNX Runtime to infer), after <paramref name="node"/> when given (a node that makes it).
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, a tensor the edit needs does not exist, or
    /// <paramref name="output"/> is an output already.</exception>
    public static byte[] AddOutput(ReadOnlySpan<byte> model, string output, int elementType, Node? node = null)
    {
        var names = Names(model);
        if (names.Outputs.Contains(output))
            throw new InvalidDataException($"'{output}' is already an output of the graph");
        if (node is null && !names.Tensors.Contains(output))
            throw new InvalidDataException($"the graph has no tensor '{output}'");
        if (node is not null)
        {
            foreach (var input in node.Inputs)
                if (!names.Tensors.Contains(input))
                    throw new InvalidDataException($"the graph has no tensor '{input}'");
            if (names.Tensors.Contains(output))
                throw new InvalidDataException($"the graph has a tensor '{output}' already");
        }
        var graph = Graph(model, out var start, out var end);
        using var added = new MemoryStream();
        if (node is not null)
        {
            var n = new MemoryStream();
            foreach (var input in node.Inputs) WriteString(n, 1, input);
            WriteString(n, 2, output);
            WriteString(n, 3, output);
            WriteString(n, 4, node.OpType);
            WriteBytes(added, 1, n.ToArray());
        }
        var info = new MemoryStream();
        WriteString(info, 1, output);
        if (elementType != 0)
        {
            var tensor = new MemoryStream();
            WriteTag(tensor, 1, 0);
            WriteVarint(tensor, (ulong)elementType);
            var type = new MemoryStream();
            WriteBytes(type, 1, tensor.ToArray());
            WriteBytes(info, 2, type.ToArray());
        }
        WriteBytes(added, 12, info.ToArray());

        using var result = new MemoryStream();
        result.Write(model[..start]);
        WriteTag(result, 7, 2);
        WriteVarint(result, (ulong)(graph.Length + added.Length));
        result.Write(graph);
        result.Write(added.GetBuffer(), 0, (int)added.Length);
        result.Write(model[end..]);
        return result.ToArray();
    }

    /// <summary>The model with every graph output after the first (the classifier's) dropped from the output list; the
    /// nodes stay (ONNX Runtime does not run a node nothing reads).</summary>
    public static byte[] KeepFirstOutput(ReadOnlySpan<byte> model)
    {
        var graph = Graph(model, out var start, out var end);
        using var kept = new MemoryStream();
        var reader = new ProtoReader(graph);
        var outputs = 0;
        while (true)
        {
            var at = reader.Position;
            if (!reader.Next(out var field, out var wire, out _, out _)) break;
            if (field == 12 && wire == 2 && outputs++ > 0) continue;
            kept.Write(graph[at..reader.Position]);
        }
        using var result = new MemoryStream();
        result.Write(model[..start]);
        WriteTag(result, 7, 2);
        WriteVarint(result, (ulong)kept.Length);
        result.Write(kept.GetBuffer(), 0, (int)kept.Length);
        result.Write(model[end..]);
        return result.ToArray();
    }

    /// <summary>A node that makes the new output: an operator on existing tensors (GlobalAveragePool of a feature map).</summary>
    public sealed record Node(string OpType, params string[] Inputs);

    /// <summary>The GraphProto's bytes, and where its field (tag included) starts and ends in the model.</summary>
    private static ReadOnlySpan<byte> Graph(ReadOnlySpan<byte> model, out int start, out int end)
    {
        var reader = new ProtoReader(model);
        int found = -1, foundEnd = -1;
        int graphStart = 0, graphLength = 0;
        while (true)
        {
            var at = reader.Position;
            bool more;
            try { more = reader.Next(out var field, out var wire, out var value, out var valueStart) && Keep(field, wire, value.Length, valueStart, at); }
            catch (InvalidDataException) { throw new InvalidDataException("is not an ONNX model (its protobuf does not parse)"); }
            if (!more) break;

            bool Keep(int field, int wire, int length, int valueStart, int tagStart)
            {
                if (field == 7 && wire == 2)
                {
                    if (found >= 0) throw new InvalidDataException("is not an ONNX model this editor can change (two graph fields)");
                    (found, graphStart, graphLength) = (tagStart, valueStart, length);
                }
                return true;
            }
            if (found == at) foundEnd = reader.Position;
        }
        if (found < 0)
            throw new InvalidDataException("is not an ONNX model (no graph)");
        (start, end) = (found, foundEnd);
        return model.Slice(graphStart, graphLength);
    }

    private static string? StringField(ReadOnlySpan<byte> message, int number)
    {
        var reader = new ProtoReader(message);
        while (reader.Next(out var field, out var wire, out var value, out _))
            if (field == number && wire == 2) return Encoding.UTF8.GetString(value);
        return null;
    }

    private static void WriteTag(Stream s, int field, int wire) => WriteVarint(s, (ulong)((field << 3) | wire));

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        s.WriteByte((byte)value);
    }

    private static void WriteBytes(Stream s, int field, ReadOnlySpan<byte> bytes)
    {
        WriteTag(s, field, 2);
        WriteVarint(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void WriteString(Stream s, int field, string text) => WriteBytes(s, field, Encoding.UTF8.GetBytes(text));

    /// <summary>Reads a protobuf message field by field (wire types 0, 1, 2, 5).</summary>
    private ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        public int Position { get; private set; }

        public bool Next(out int field, out int wire, out ReadOnlySpan<byte> value, out int valueStart)
        {
            value = default;
            valueStart = 0;
            if (Position >= _data.Length)
            {
                (field, wire) = (0, 0);
                return false;
            }
            var key = Varint();
            field = (int)(key >> 3);
            wire = (int)(key & 7);
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: Skip(8); break;
                case 5: Skip(4); break;
                case 2:
                    var length = Varint();
                    if (length > (ulong)(_data.Length - Position)) throw new InvalidDataException("truncated field");
                    valueStart = Position;
                    value = _data.Slice(Position, (int)length);
                    Position += (int)length;
                    break;
                default: throw new InvalidDataException($"wire type {wire}");
            }
            if (field == 0) throw new InvalidDataException("field 0");
            return true;
        }

        private void Skip(int n)
        {
            if (Position + n > _data.Length) throw new InvalidDataException("truncated field");
            Position += n;
        }

        private ulong Varint()
        {
            ulong result = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (Position >= _data.Length) throw new InvalidDataException("truncated varint");
                var b = _data[Position++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return result;
            }
            throw new InvalidDataException("varint too long");
        }
    }
}
