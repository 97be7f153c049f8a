namespace Classify.Evaluation;

/// <summary>
/// The classes of a model, found by what people write in labelled data: a WordNet id ("n02124075"), the label as the
/// model's labels file has it ("Egyptian cat"), any of its comma-separated names ("tabby cat" of "tabby, tabby cat"),
/// in any case, with '_' for ' ' (a folder named "Egyptian_cat"). A name two classes share ("crane": the bird and the
/// machine) is refused as ambiguous rather than guessed; its WordNet id tells them apart.
/// </summary>
public sealed class ClassNames
{
    private readonly IReadOnlyList<string> _labels;
    private readonly IReadOnlyList<string>? _synsets;
    private readonly Dictionary<string, List<int>> _byName = new(StringComparer.Ordinal);

    public ClassNames(IReadOnlyList<string> labels, IReadOnlyList<string>? synsets)
    {
        _labels = labels;
        _synsets = synsets;
        for (var c = 0; c < labels.Count; c++)
        {
            var names = new HashSet<string>(StringComparer.Ordinal) { Normal(labels[c]) };
            foreach (var alias in labels[c].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                names.Add(Normal(alias));
            if (synsets is not null) names.Add(Normal(synsets[c]));
            foreach (var name in names)
            {
                if (!_byName.TryGetValue(name, out var list)) _byName[name] = list = [];
                list.Add(c);
            }
        }
    }

    public static ClassNames Of(Models.Labels labels) => new(labels.Names, labels.Synsets);

    public int Count => _labels.Count;

    public string Label(int c) => _labels[c];

    public string? Synset(int c) => _synsets?[c];

    /// <summary>"Egyptian cat (n02124075)": how a class is shown to people.</summary>
    public string Describe(int c) => _synsets is null ? _labels[c] : $"{_labels[c]} ({_synsets[c]})";

    /// <summary>The class <paramref name="name"/> names.</summary>
    /// <exception cref="ClassifyException">Exit 31, naming <paramref name="where"/>: no class of that name (with the
    /// closest one), or a name two classes share.</exception>
    public int Find(string name, string where)
    {
        if (_byName.TryGetValue(Normal(name), out var classes))
        {
            if (classes.Count == 1) return classes[0];
            throw new ClassifyException(ExitCode.EvalDataInvalid, where,
                $"'{name}' names {classes.Count} classes of the model ({string.Join(", ", classes.Select(Describe))}): use the WordNet id");
        }
        var closest = Suggestions.Closest(Normal(name), _byName.Keys, maxDistance: 3) is { } n ? Describe(_byName[n][0]) : null;
        throw new ClassifyException(ExitCode.EvalDataInvalid, where,
            $"'{name}' is no class of the model{(closest is null ? "" : $" (did you mean {closest}?)")}: name classes by WordNet id (n02124075) or by label (Egyptian cat)");
    }

    /// <summary>A class index as classify writes it ("class": 285), checked against the model.</summary>
    public int Index(string text, string where) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var c) && c < Count
            ? c
            : throw new ClassifyException(ExitCode.EvalDataInvalid, where, $"class '{text}' is not an index of the model's {Count} classes (0-{Count - 1})");

    private static string Normal(string name) => name.Trim().Replace('_', ' ').ToLowerInvariant();
}
