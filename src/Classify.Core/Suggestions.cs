namespace Classify;

/// <summary>"Did you mean ...?": the closest of a few known words to a mistyped one.</summary>
public static class Suggestions
{
    /// <summary>The candidate within <paramref name="maxDistance"/> edits of <paramref name="word"/>, nearest first;
    /// null when none is that close.</summary>
    public static string? Closest(string word, IEnumerable<string> candidates, int maxDistance = 2) =>
        candidates.Select(c => (c, d: EditDistance(word, c))).Where(x => x.d <= maxDistance).OrderBy(x => x.d).Select(x => x.c).FirstOrDefault();

    /// <summary>Levenshtein distance: insertions, deletions and substitutions.</summary>
    public static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
