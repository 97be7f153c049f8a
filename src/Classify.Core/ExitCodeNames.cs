using System.Reflection;

namespace Classify;

/// <summary>The constant name of an exit code ("ImageCorrupt"), for machine-readable output.</summary>
public static class ExitCodeNames
{
    private static readonly Dictionary<int, string> Names = typeof(ExitCode)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral)
        .ToDictionary(f => (int)f.GetRawConstantValue()!, f => f.Name);

    public static string Of(int code) => Names.TryGetValue(code, out var name) ? name : code.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
