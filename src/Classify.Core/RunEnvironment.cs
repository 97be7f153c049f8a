using System.Collections;

namespace Classify;

/// <summary>
/// The environment variables of a run, read once where the run starts (the CLI's Program) and passed in, so a part
/// of the run never reads the process environment behind the caller's back and a test can hand a run its own
/// (issue 27). Only the loaders of native libraries still read the process environment itself: a library, like the
/// dynamic linker that loads it, is loaded once per process, whatever run asked.
/// </summary>
public sealed class RunEnvironment
{
    private readonly IReadOnlyDictionary<string, string> _variables;

    public RunEnvironment(IReadOnlyDictionary<string, string> variables) => _variables = variables;

    /// <summary>This process's variables, as they are now.</summary>
    public static RunEnvironment OfProcess()
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            variables[(string)e.Key] = (string?)e.Value ?? "";
        return new RunEnvironment(variables);
    }

    public IReadOnlyDictionary<string, string> Variables => _variables;

    /// <summary>The variable's value; null when it is not set.</summary>
    public string? this[string name] => _variables.TryGetValue(name, out var value) ? value : null;

    /// <summary>The same as a function, for the parts that take a lookup.</summary>
    public string? Get(string name) => this[name];

    /// <summary>The value when it is set and not empty, else null (how most variables here are read).</summary>
    public string? NonEmpty(string name) => this[name] is { Length: > 0 } value ? value : null;

    /// <summary>A copy with <paramref name="name"/> set (or removed, for null).</summary>
    public RunEnvironment With(string name, string? value)
    {
        var copy = new Dictionary<string, string>(_variables, StringComparer.Ordinal);
        if (value is null) copy.Remove(name); else copy[name] = value;
        return new RunEnvironment(copy);
    }
}
