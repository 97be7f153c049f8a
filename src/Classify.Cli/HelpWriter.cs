using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using System.Text;
using CommandLine;

namespace Classify.Cli;

/// <summary>Where an option is listed in --help, and the word shown for its value (--output FILE).</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class HelpAttribute(string group, string? value = null) : Attribute
{
    public string Group { get; } = group;
    public string? Value { get; } = value;
}

/// <summary>
/// --help, written by classify rather than CommandLineParser's HelpText: 2.9.1 lists options in declaration order
/// without groups, shows enum defaults as their C# names (Auto, Jsonl) although the values are typed lowercase, and
/// cannot name an option's value. The facts (names, defaults, texts) still come from the options' attributes.
/// </summary>
internal static class HelpWriter
{
    private const int Width = 100;
    private const int Indent = 30;

    public static string Write<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(
        string usage, string? verbText, IEnumerable<string> footer)
    {
        var text = new StringBuilder();
        text.Append(Arguments.Version).Append('\n');
        text.Append(usage).Append('\n');
        if (verbText is not null)
            text.Append('\n').Append(verbText).Append('\n');
        var defaults = Activator.CreateInstance<T>();
        var entries = new List<(string Group, string Name, string Text)>();
        foreach (var p in typeof(T).GetProperties())
        {
            var group = p.GetCustomAttribute<HelpAttribute>();
            if (p.GetCustomAttribute<ValueAttribute>() is { } value)
            {
                entries.Add((group?.Group ?? "Arguments", value.MetaName + (IsSequence(p.PropertyType) ? "..." : ""), value.HelpText));
                continue;
            }
            if (p.GetCustomAttribute<OptionAttribute>() is not { Hidden: false } option)
                continue;
            var name = (Arguments.ShortFor(option.LongName) is { } s ? s + ", " : "    ") + "--" + option.LongName;
            if (p.PropertyType != typeof(bool))
                name += " " + (group?.Value ?? "VALUE");
            var help = option.HelpText;
            if (option.Required)
                help = "Required. " + help;
            else if (option.Default is { } d)
                help += $" (default:\u00a0{Show(d)})"; // one word for the wrapping below
            entries.Add((group?.Group ?? "Options", name, help));
        }
        entries.Add(("Other", "-h, --help", "Print this help and exit."));
        entries.Add(("Other", "-V, --version", "Print the version of classify, its commit, ONNX Runtime's version and the CUDA it was built for."));

        foreach (var group in entries.Select(e => e.Group).Distinct())
        {
            text.Append('\n').Append(group).Append(":\n");
            foreach (var (_, name, help) in entries.Where(e => e.Group == group))
                Entry(text, name, help);
        }
        text.Append('\n');
        foreach (var line in footer)
            text.Append(line).Append('\n');
        return text.ToString();
    }

    private static bool IsSequence(Type type) => type != typeof(string) && type.IsAssignableTo(typeof(System.Collections.IEnumerable));

    /// <summary>A default as it is typed on the command line: enum values in lowercase, numbers invariant.</summary>
    private static string Show(object value) => value switch
    {
        Enum e => e.ToString().ToLowerInvariant(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>"  NAME   help" with the help wrapped at word boundaries into the right-hand column.</summary>
    private static void Entry(StringBuilder text, string name, string help)
    {
        var line = new StringBuilder("  " + name);
        if (line.Length >= Indent - 1)
        {
            text.Append(line).Append('\n');
            line.Clear();
        }
        line.Append(' ', Indent - line.Length);
        var start = true;
        foreach (var word in help.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!start && line.Length + 1 + word.Length > Width)
            {
                text.Append(line).Append('\n');
                line.Clear().Append(' ', Indent);
                start = true;
            }
            if (!start) line.Append(' ');
            line.Append(word.Replace('\u00a0', ' '));
            start = false;
        }
        text.Append(line.ToString().TrimEnd()).Append('\n');
    }
}
