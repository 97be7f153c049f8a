using System.Reflection;
using System.Text.RegularExpressions;
using Xunit;

namespace Classify.Tests;

/// <summary>Scripts branch on exit codes, so the README's table must list every one, with the value the code uses.</summary>
public sealed class ExitCodeTableTests
{
    [Fact]
    public void The_readme_lists_every_exit_code_with_its_value()
    {
        var readme = File.ReadAllText(Path.Combine(TestData.RepoRoot, "README.md"));
        var table = Regex.Matches(readme, @"^\| (\d+) \| (\w+) \|", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[2].Value, m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        var constants = typeof(ExitCode).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral)
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);
        Assert.Equal(constants.OrderBy(p => p.Key), table.OrderBy(p => p.Key));
    }
}
