using System.Text;

namespace Classify.Evaluation;

/// <summary>The fields of one line of CSV (RFC 4180 quoting: "a, b" and "say ""hi""") or TSV (no quoting).</summary>
public static class Delimited
{
    /// <summary>The separator of a file: a tab for .tsv, or for a first line with tabs and no commas; else a comma.</summary>
    public static char SeparatorOf(string path, string firstLine) =>
        path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) || (firstLine.Contains('\t') && !firstLine.Contains(','))
            ? '\t' : ',';

    /// <exception cref="FormatException">A quoted field that does not end on its line.</exception>
    public static List<string> Split(string line, char separator)
    {
        var fields = new List<string>();
        if (separator == '\t')
        {
            fields.AddRange(line.Split('\t'));
            return fields;
        }
        var field = new StringBuilder();
        var i = 0;
        while (true)
        {
            if (i < line.Length && line[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= line.Length) throw new FormatException("a quoted field does not end on its line");
                    if (line[i] == '"')
                    {
                        if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    field.Append(line[i++]);
                }
            }
            while (i < line.Length && line[i] != separator) field.Append(line[i++]);
            fields.Add(field.ToString());
            field.Clear();
            if (i >= line.Length) return fields;
            i++; // the separator
        }
    }
}
