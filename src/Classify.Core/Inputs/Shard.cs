using System.Globalization;

namespace Classify.Inputs;

/// <summary>
/// Part <see cref="Index"/> of <see cref="Count"/> (0-based) of an ordered input list: a contiguous slice,
/// sizes differing by at most one, computed from the list's length alone. So the split is the same on
/// every run and node, every input lands in exactly one shard, and concatenating the shards' outputs in
/// shard order gives the output of one unsharded run.
/// </summary>
public readonly record struct Shard
{
    public Shard(int index, int count)
    {
        if (count < 1 || index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(index), $"shard {index}/{count} is not 0 <= I < N");
        Index = index;
        Count = count;
    }

    public int Index { get; }
    public int Count { get; }

    public static Shard Whole { get; } = new(0, 1);

    public bool IsWhole => Count == 1;

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>What <c>{shard}</c> in --output becomes: shard-0003-of-0016, both numbers zero-padded to the same width
    /// (at least 4, as classify-array.sbatch names them), so that a sorted listing is shard order.</summary>
    public string FileTag
    {
        get
        {
            var width = Math.Max(4, Count.ToString(CultureInfo.InvariantCulture).Length);
            return $"shard-{Index.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0')}-of-{Count.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0')}";
        }
    }

    /// <summary>--output with <c>{shard}</c> replaced by <see cref="FileTag"/>. Without <c>{shard}</c>, the path is
    /// unchanged unless <paramref name="insertTag"/> (a rank of an MPI launch or srun step: every rank of `mpirun -np 8
    /// classify -o out/results.jsonl` is given the same path), when the tag goes before the extension:
    /// out/results.shard-0003-of-0008.jsonl, the names classify merge expects.</summary>
    public string NameOutput(string path, bool insertTag = false)
    {
        if (path.Contains("{shard}", StringComparison.Ordinal) || !insertTag || IsWhole)
            return path.Replace("{shard}", FileTag, StringComparison.Ordinal);
        var name = Path.GetFileName(path);
        var dot = name.LastIndexOf('.');
        var tagged = dot > 0 ? $"{name[..dot]}.{FileTag}{name[dot..]}" : $"{name}.{FileTag}";
        return Path.Combine(Path.GetDirectoryName(path) ?? "", tagged);
    }

    /// <summary>The half-open range [Start, Start + Length) of a list of <paramref name="total"/> items.</summary>
    public (int Start, int Length) RangeOf(int total)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(total);
        // The first total % Count shards take one extra item.
        int quotient = Math.DivRem(total, Count, out int remainder);
        int start = Index * quotient + Math.Min(Index, remainder);
        return (start, quotient + (Index < remainder ? 1 : 0));
    }

    public IReadOnlyList<T> Slice<T>(IReadOnlyList<T> items)
    {
        if (IsWhole)
            return items;
        var (start, length) = RangeOf(items.Count);
        var slice = new T[length];
        for (int i = 0; i < length; i++)
            slice[i] = items[start + i];
        return slice;
    }

    /// <summary>Parses the <c>--shard I/N</c> value.</summary>
    public static Shard Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2
            && TryParseCount(parts[0], out int index) && TryParseCount(parts[1], out int count)
            && count >= 1 && index < count)
            return new Shard(index, count);
        throw new ClassifyException(ExitCode.Usage, null,
            $"--shard {text}: expected I/N with 0 <= I < N, e.g. --shard 0/4 for the first of four shards");
    }

    /// <summary>
    /// The shard a Slurm job implies, or null when it implies none: an array task takes shard
    /// (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) of SLURM_ARRAY_TASK_COUNT. The tasks of an srun step, like MPI
    /// ranks, are found by <see cref="Launcher"/>.
    /// </summary>
    public static Shard? FromSlurm(Func<string, string?> environment)
    {
        if (environment("SLURM_ARRAY_TASK_ID") is { Length: > 0 } taskId)
            return FromArray(environment, taskId);

        return null;
    }

    private static Shard? FromArray(Func<string, string?> environment, string taskIdText)
    {
        int id = Number("SLURM_ARRAY_TASK_ID", taskIdText);
        int min = Optional(environment, "SLURM_ARRAY_TASK_MIN") ?? 0;
        int max = Optional(environment, "SLURM_ARRAY_TASK_MAX") ?? id;
        int step = Optional(environment, "SLURM_ARRAY_TASK_STEP") ?? 1;
        int count = Optional(environment, "SLURM_ARRAY_TASK_COUNT") ?? max - min + 1;
        string array = $"array {min}-{max} ({count} tasks)";
        // Only a plain range 0..N-1 or 1..N maps to shards without guessing. A resubmission of some tasks
        // (--array=3,7) or of one (--array=5) would otherwise become shards of a smaller split and
        // classify the wrong images, so those must name the shard.
        if (step != 1 || max - min + 1 != count || min > 1)
            throw Inconsistent($"task {id} of {array} is not part of a range 0..N-1 or 1..N");
        if (id < min || id > max)
            throw Inconsistent($"SLURM_ARRAY_TASK_ID={id} is outside {array}");
        return count == 1 ? null : new Shard(id - min, count);
    }

    private static ClassifyException Inconsistent(string what) => new(ExitCode.Usage, null,
        $"cannot take the shard from Slurm: {what}; pass --shard I/N (classify-array.sbatch does, from SHARDS)");

    private static int? Optional(Func<string, string?> environment, string name) =>
        environment(name) is { Length: > 0 } text ? Number(name, text) : null;

    private static int Number(string name, string text) => TryParseCount(text, out int value)
        ? value
        : throw new ClassifyException(ExitCode.Usage, null, $"{name}={text}: not a non-negative integer");

    private static bool TryParseCount(string text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
