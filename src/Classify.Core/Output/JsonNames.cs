using System.Globalization;
using System.Text;
using System.Text.Json;
using Classify.Inputs;

namespace Classify.Output;

/// <summary>
/// File names that are not UTF-8 in JSON: System.Text.Json neither writes nor reads a lone surrogate, and such a name
/// holds them (<see cref="FileNames"/>). They are written as <c>\udce9</c> escapes, which is valid JSON (RFC 8259
/// allows any \u escape), and Python's json.loads gives back the same lone surrogates, which os.fsencode turns into
/// the name's bytes.
/// </summary>
internal static class JsonNames
{
    /// <summary>The name as a JSON string literal, quotes included.</summary>
    public static string Quote(string name)
    {
        var json = new StringBuilder(name.Length + 16).Append('"');
        var rest = name.AsSpan();
        while (!rest.IsEmpty)
        {
            var escape = rest.IndexOfAnyInRange('\uDC80', '\uDCFF');
            var run = escape < 0 ? rest : rest[..escape];
            if (!run.IsEmpty)
                json.Append(JsonEncodedText.Encode(run, ResultJson.Options.Encoder).Value);
            if (escape < 0)
                break;
            json.Append("\\u").Append(((int)rest[escape]).ToString("x4", CultureInfo.InvariantCulture));
            rest = rest[(escape + 1)..];
        }
        return json.Append('"').ToString();
    }

    /// <summary>The value of a JSON string (its raw text, quotes included) whose escapes may be lone surrogates.</summary>
    /// <exception cref="FormatException">It is not a JSON string.</exception>
    public static string Unquote(string raw)
    {
        if (raw.Length < 2 || raw[0] != '"' || raw[^1] != '"')
            throw new FormatException("not a JSON string");
        var text = new StringBuilder(raw.Length);
        for (var i = 1; i < raw.Length - 1; i++)
        {
            var c = raw[i];
            if (c != '\\')
            {
                text.Append(c);
                continue;
            }
            if (++i >= raw.Length - 1) throw new FormatException("a JSON string ends inside an escape");
            text.Append(raw[i] switch
            {
                '"' => '"', '\\' => '\\', '/' => '/', 'b' => '\b', 'f' => '\f', 'n' => '\n', 'r' => '\r', 't' => '\t',
                'u' when i + 4 < raw.Length - 1 && ushort.TryParse(raw.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var u)
                    => (char)u,
                _ => throw new FormatException("not a JSON escape"),
            });
            if (raw[i] == 'u') i += 4;
        }
        return text.ToString();
    }
}
