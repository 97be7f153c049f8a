using System.Globalization;
using System.Text.RegularExpressions;

namespace Classify.Output;

/// <summary>
/// <c>classify merge</c>: joins the jsonl files of a sharded run into one file that appears only when complete.
/// Files named results.shard-I-of-N are joined in the order of I, whatever the order of the arguments: a glob sorts
/// shard-10 before shard-2 when the numbers are not zero-padded (srun's $SLURM_PROCID is not), and a merge in that
/// order would put rows in the wrong place with nothing said. Other names are joined in the order given. A missing,
/// repeated or torn shard, or a set with a gap, is an error naming the file: a merged result that silently lacks or
/// doubles a shard's images is worse than none. So is a set whose records were made by different models, model files
/// or classify builds: every record carries its provenance, and a merged file says one run made it.
/// </summary>
public static partial class ShardMerge
{
    /// <summary>classify-array.sbatch's names: results.shard-0003-of-0016.jsonl.</summary>
    [GeneratedRegex(@"\.shard-(\d+)-of-(\d+)\.", RegexOptions.CultureInvariant)]
    private static partial Regex ShardName();

    /// <returns>The number of results merged.</returns>
    public static long Merge(IReadOnlyList<string> shards, string output, OutputFormat format)
    {
        if (shards.Count == 0)
            throw new ClassifyException(ExitCode.Usage, null, "merge: no shard files given");
        shards = InShardOrder(shards);
        foreach (var shard in shards)
        {
            if (!File.Exists(shard))
                throw new ClassifyException(ExitCode.ShardInvalid, shard,
                    Directory.Exists(shard) ? "is a directory, not a shard file" : "no such shard file (did its task finish?)");
            // A device (/dev/zero) or a FIFO is no finished shard, and reading one might never end.
            if (FileStatus.OfPath(shard) is not { Type: FileStatus.Regular })
                throw new ClassifyException(ExitCode.ShardInvalid, shard, "is not a regular file, so not a finished shard");
        }

        var first = FirstRecords(shards);
        using var file = new AtomicFile(output);
        long count = 0;
        using (var text = ResultWriter.OpenText(file.Stream))
        {
            // Backend and device are not in the records (json's header says unknown): the model file's hash and the
            // build are what decide the results, and shards of one array may well run on different GPU models.
            var writer = format == OutputFormat.Jsonl
                ? null
                : ResultWriter.Create(format, text, new RunInfo(first.Made, "unknown", "unknown", first.TopK), singleInput: false);
            foreach (var shard in shards)
            {
                try
                {
                    count += Copy(shard, writer is null ? file.Stream : null, writer, first);
                }
                catch (InvalidDataException e)
                {
                    throw new ClassifyException(ExitCode.ShardInvalid, shard, e.Message);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new ClassifyException(ExitCode.ShardInvalid, shard, $"cannot read: {e.Message}");
                }
            }
            writer?.Complete();
            text.Flush();
        }
        file.Commit();
        return count;
    }

    /// <summary>The shards in shard order when every name says which shard of how many it is (the set must then be
    /// complete), else as given; the same file given twice is refused either way.</summary>
    public static IReadOnlyList<string> InShardOrder(IReadOnlyList<string> shards)
    {
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var shard in shards)
        {
            if (!paths.TryAdd(Path.GetFullPath(shard), shard))
                throw new ClassifyException(ExitCode.ShardInvalid, shard, $"is given twice (also as {paths[Path.GetFullPath(shard)]}): its images would be merged twice");
        }
        var seen = new Dictionary<int, string>();
        int? total = null;
        string? first = null;
        foreach (var shard in shards)
        {
            var m = ShardName().Match(Path.GetFileName(shard));
            if (!m.Success || !int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                || !int.TryParse(m.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var of))
                return shards;
            if (total is { } n && n != of)
                throw new ClassifyException(ExitCode.ShardInvalid, shard, $"is one of {of} shards, but {first} is one of {n}: shards of different runs");
            total = of;
            first ??= shard;
            if (index >= of)
                throw new ClassifyException(ExitCode.ShardInvalid, shard, $"shard {index} of {of} does not exist");
            if (!seen.TryAdd(index, shard))
                throw new ClassifyException(ExitCode.ShardInvalid, shard, $"shard {index} is also given as {seen[index]}");
        }
        if (total is { } count && seen.Count < count)
        {
            var missing = Enumerable.Range(0, count).Where(i => !seen.ContainsKey(i)).ToList();
            var name = ShardName().Replace(Path.GetFileName(first!), $".shard-{Padded(missing[0], first!)}-of-{Padded(count, first!, group: 2)}.", 1);
            var example = Path.Combine(Path.GetDirectoryName(first!) ?? "", name);
            throw new ClassifyException(ExitCode.ShardInvalid, example,
                $"missing: {missing.Count} of {count} shards not given ({Describe(missing)}); did those tasks finish?");
        }
        return [.. seen.OrderBy(s => s.Key).Select(s => s.Value)];
    }

    private static string Padded(int value, string like, int group = 1)
    {
        var width = ShardName().Match(Path.GetFileName(like)).Groups[group].Length;
        return value.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0');
    }

    private static string Describe(List<int> missing) =>
        (missing.Count == 1 ? "shard " : "shards ")
        + string.Join(", ", missing.Take(10).Select(i => i.ToString(CultureInfo.InvariantCulture)))
        + (missing.Count > 10 ? ", ..." : "");

    /// <summary>Copies one shard; jsonl byte for byte, other formats through <paramref name="writer"/>.</summary>
    private static long Copy(string shard, Stream? raw, ResultWriter? writer, First first)
    {
        using var input = new FileStream(shard, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var lines = new LineScanner(input);
        long count = 0;
        while (lines.TryRead(out var line, out var terminated))
        {
            count++;
            var result = ResultReader.TryParse(line.Span, out var made);
            if (result is null)
            {
                throw new ClassifyException(ExitCode.ShardInvalid, shard, count == 1 && line.Span.StartsWith("{\"classify_journal\""u8)
                    ? "is the resume journal of an unfinished task, not a finished shard"
                    : $"line {count} is not a classify result" + (terminated ? "" : " (the file is truncated)"));
            }
            if (!terminated)
                throw new ClassifyException(ExitCode.ShardInvalid, shard, $"truncated: line {count} has no end");
            if (made != first.Made)
                throw new ClassifyException(ExitCode.ShardInvalid, shard,
                    $"line {count} was made by {Describe(made)}, but {first.Shard} by {Describe(first.Made)}: results of different models or builds are not merged");
            if (writer is null)
            {
                raw!.Write(line.Span);
                raw.WriteByte((byte)'\n');
            }
            else
            {
                writer.Write(result);
            }
        }
        return count;
    }

    private static string Describe(Provenance? made) => made is null
        ? "a classify build that did not record its model"
        : $"model {made.Model} (model_sha256 {made.ModelSha256}, classify {made.ClassifyVersion})";

    /// <summary>What the merged file's records must all have been made by, the first shard that says so, and the json
    /// format's top_k (from the first result with predictions).</summary>
    private sealed record First(Provenance? Made, string? Shard, int TopK);

    private static First FirstRecords(IReadOnlyList<string> shards)
    {
        (Provenance? Made, string Shard)? made = null;
        foreach (var shard in shards)
        {
            using var input = new FileStream(shard, FileMode.Open, FileAccess.Read, FileShare.Read);
            var lines = new LineScanner(input);
            try
            {
                while (lines.TryRead(out var line, out _))
                {
                    // Lines that do not parse are skipped here; Copy names them, in order.
                    var result = ResultReader.TryParse(line.Span, out var m);
                    if (result is not null)
                        made ??= (m, shard);
                    if (result is { Predictions: { } p })
                        return new First(made!.Value.Made, made.Value.Shard, p.Length);
                }
            }
            catch (InvalidDataException e)
            {
                throw new ClassifyException(ExitCode.ShardInvalid, shard, e.Message);
            }
        }
        return new First(made?.Made, made?.Shard, 0);
    }
}
