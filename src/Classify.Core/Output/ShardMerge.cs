using System.Globalization;
using System.Text.RegularExpressions;
using Classify.Pipeline;

namespace Classify.Output;

/// <summary>
/// <c>classify merge</c>: joins the jsonl files of a sharded run into one file that appears only when complete, the
/// same bytes as one unsharded run in every format. Each shard file ends with a <see cref="ShardTrailer"/>, and merge
/// proves from the trailers, not from file names, that the files are exactly one complete split: every shard present
/// once, each holding the record count and names its trailer gives, all of one split (the same input list), and the
/// names of all records in shard order equal to that list. Files are ordered by their trailers, so srun's unpadded
/// shard-10 globbed before shard-2 merges right; a name that says shard-I-of-N must agree with its trailer. A set of
/// records made by different models, model files or classify builds is refused too: a merged file says one run made
/// it. Every line is parsed and written out again, never copied: no byte merge did not understand reaches the output.
/// </summary>
public static partial class ShardMerge
{
    /// <inheritdoc cref="Guard{T}(string, Func{T})"/>
    internal static T GuardShard<T>(string shard, Func<T> read) => Guard(shard, read);

    /// <summary>classify-array.sbatch's names: results.shard-0003-of-0016.jsonl.</summary>
    [GeneratedRegex(@"\.shard-(\d+)-of-(\d+)\.", RegexOptions.CultureInvariant)]
    private static partial Regex ShardName();

    /// <returns>The number of results merged.</returns>
    /// <param name="output">The merged file, or null for <paramref name="standardOutput"/>.</param>
    public static long Merge(IReadOnlyList<string> shards, string? output, OutputFormat format, TextWriter? standardOutput = null)
    {
        if (shards.Count == 0)
            throw new ClassifyException(ExitCode.Usage, null, "merge: no shard files given");
        RefuseRepeats(shards);
        if (output is not null)
            RefuseOverwritingAShard(shards, output);
        foreach (var shard in shards)
        {
            if (!File.Exists(shard))
                throw new ClassifyException(ExitCode.ShardInvalid, shard,
                    Directory.Exists(shard) ? "is a directory, not a shard file" : "no such shard file (did its task finish?)");
            // A device (/dev/zero) or a FIFO is no finished shard, and reading one might never end.
            if (FileStatus.OfPath(shard) is not { Type: FileStatus.Regular })
                throw new ClassifyException(ExitCode.ShardInvalid, shard, "is not a regular file, so not a finished shard");
        }
        var split = InSplitOrder([.. shards.Select(s => (s, Guard(s, () => ShardTrailer.ReadFrom(s))))]);
        var trailer = split[0].Trailer;
        var made = Guard(split[0].Path, () => FirstProvenance(split));
        // One GPU model or another does not change the split; the json header names them when all shards agree.
        string Common(Func<ShardTrailer, string> field) => split.Select(s => field(s.Trailer)).Distinct().Count() == 1 ? field(trailer) : "mixed";
        var info = new RunInfo(made?.Made, Common(t => t.Backend), Common(t => t.Device), trailer.TopK);

        var embeddings = ShardFeatures.Check(split, output);
        using var file = output is null ? null : new AtomicFile(output);
        long count = 0;
        using var names = new NameDigest();
        using (var owned = file is null ? null : ResultWriter.OpenText(file.Stream))
        {
            var text = owned ?? standardOutput ?? throw new ArgumentNullException(nameof(standardOutput));
            var writer = ResultWriter.Create(format, text, info, singleInput: trailer.Inputs == 1);
            foreach (var (shard, t) in split)
                count += Guard(shard, () => Copy(shard, t, writer, made, names));
            writer.Complete();
            text.Flush();
        }
        if (names.Finish() != trailer.InputsSha256)
            throw new ClassifyException(ExitCode.ShardInvalid, split[0].Path,
                $"the {split.Count} shards together hold other images, or the same in another order, than the split of {trailer.Inputs} inputs their trailers name: a shard's records were replaced");
        if (embeddings is not null)
            ShardFeatures.Merge(embeddings, Features.FeaturesFile.PathFor(output!));
        file?.Commit();
        return count;
    }

    /// <summary>An --output that is one of the shards (by name, link or hard link) would replace it with the merge,
    /// and a rerun of the merge would then find that shard gone.</summary>
    private static void RefuseOverwritingAShard(IReadOnlyList<string> shards, string output)
    {
        var target = FileStatus.OfPath(output);
        foreach (var shard in shards)
        {
            if (Path.GetFullPath(shard) == Path.GetFullPath(output)
                || (target is { Type: FileStatus.Regular } t && FileStatus.OfPath(shard) is { } s && s.Inode == t.Inode && s.Device == t.Device))
                throw new ClassifyException(ExitCode.Usage, output,
                    $"--output is the shard {shard} given to merge: the merge would overwrite it; write the merged file elsewhere");
        }
    }

    /// <summary>Runs <paramref name="read"/> on one shard, turning a read failure into an error that names it.</summary>
    private static T Guard<T>(string shard, Func<T> read)
    {
        try
        {
            return read();
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

    private static void RefuseRepeats(IReadOnlyList<string> shards)
    {
        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var shard in shards)
        {
            if (!paths.TryAdd(Path.GetFullPath(shard), shard))
                throw new ClassifyException(ExitCode.ShardInvalid, shard, $"is given twice (also as {paths[Path.GetFullPath(shard)]}): its images would be merged twice");
        }
    }

    /// <summary>The shards in shard order, after checking that they are one split, complete, each shard once, and
    /// that a name saying shard-I-of-N agrees with the trailer.</summary>
    internal static List<(string Path, ShardTrailer Trailer)> InSplitOrder(List<(string Path, ShardTrailer Trailer)> shards)
    {
        var (firstPath, first) = shards[0];
        var seen = new Dictionary<int, string>();
        foreach (var (shard, t) in shards)
        {
            var m = ShardName().Match(Path.GetFileName(shard));
            if (m.Success && (!int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var named)
                || !int.TryParse(m.Groups[2].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var of)
                || named != t.Index || of != t.Count))
                throw new ClassifyException(ExitCode.ShardInvalid, shard,
                    $"is named {m.Value.Trim('.')} but holds {t} (its trailer says so): a renamed or copied file; give the shard files as classify wrote them");
            if (t.Count != first.Count || t.Inputs != first.Inputs || t.InputsSha256 != first.InputsSha256 || t.TopK != first.TopK)
                throw new ClassifyException(ExitCode.ShardInvalid, shard,
                    $"is {t} of a split of {t.Inputs} inputs (top {t.TopK}), but {firstPath} is {first} of a split of {first.Inputs} inputs (top {first.TopK})"
                    + (t.Count == first.Count && t.Inputs == first.Inputs && t.TopK == first.TopK ? " with other names" : "")
                    + ": shards of different runs");
            if (!seen.TryAdd(t.Index, shard))
                throw new ClassifyException(ExitCode.ShardInvalid, shard, $"holds {t}, which is also given as {seen[t.Index]}: its images would be merged twice");
        }
        if (seen.Count < first.Count)
        {
            var missing = Enumerable.Range(0, first.Count).Where(i => !seen.ContainsKey(i)).ToList();
            var like = shards.Select(s => s.Path).FirstOrDefault(p => ShardName().IsMatch(Path.GetFileName(p)));
            var example = like is null ? null
                : Path.Combine(Path.GetDirectoryName(like) ?? "",
                    ShardName().Replace(Path.GetFileName(like), $".shard-{Padded(missing[0], like)}-of-{Padded(first.Count, like, group: 2)}.", 1));
            throw new ClassifyException(ExitCode.ShardInvalid, example,
                $"missing: {missing.Count} of {first.Count} shards not given ({Describe(missing)}); did those tasks finish?");
        }
        return [.. shards.OrderBy(s => s.Trailer.Index)];
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

    /// <summary>Writes one shard's records through <paramref name="writer"/>, checking each against what its trailer
    /// says and the split's provenance.</summary>
    private static long Copy(string shard, ShardTrailer trailer, ResultWriter writer, (Provenance? Made, string Shard)? first, NameDigest allNames)
    {
        using var names = new NameDigest();
        long count = 0;
        foreach (var (result, made) in Records(shard, trailer))
        {
            count++;
            if (made != first?.Made)
                throw new InvalidDataException(
                    $"{Record(shard, count)} was made by {Describe(made)}, but {first?.Shard} by {Describe(first?.Made)}: results of different models or builds are not merged");
            if (result.Predictions is { } p && p.Length != trailer.TopK)
                throw new InvalidDataException($"{Record(shard, count)} has {p.Length} predictions, but the shard was made with top {trailer.TopK}");
            writer.Write(result);
            names.Add(result.File);
            allNames.Add(result.File);
        }
        var expected = trailer.Shard.RangeOf((int)trailer.Inputs).Length;
        if (count != trailer.Records || count != expected)
            throw new InvalidDataException(
                $"holds {count} records, but its trailer says {trailer.Records} and {trailer} of {trailer.Inputs} inputs has {expected}: records were removed or added after classify wrote it");
        if (names.Finish() != trailer.FilesSha256)
            throw new InvalidDataException($"its records name other images than classify wrote into it (files_sha256 differs): records were replaced or reordered");
        return count;
    }

    /// <summary>"line 3" of a jsonl shard, "row 3" of a parquet one.</summary>
    private static string Record(string shard, long n) => $"{(ParquetResultReader.IsParquet(shard) ? "row" : "line")} {n}";

    /// <summary>A shard's records with their provenance: a parquet shard's rows, or a jsonl shard's lines up to its
    /// trailer (which must be its last line).</summary>
    private static IEnumerable<(ImageResult Result, Provenance? Made)> Records(string shard, ShardTrailer trailer)
    {
        if (ParquetResultReader.IsParquet(shard))
        {
            foreach (var row in ParquetResultReader.Read(shard))
                yield return row;
            yield break;
        }
        using var input = new FileStream(shard, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var lines = new LineScanner(input);
        long count = 0;
        while (lines.TryRead(out var line, out _))
        {
            if (ShardTrailer.LooksLikeOne(line.Span))
            {
                if (ShardTrailer.TryParse(line.Span) != trailer || lines.TryRead(out _, out _))
                    throw new InvalidDataException($"line {count + 1} is a shard trailer, but not its last line: two shard files joined, or changed while merging");
                break;
            }
            count++;
            // ShardTrailer.ReadFrom has refused a journal, and a file whose last line has no end.
            var result = ResultJson.TryParse(line.Span, out var made) ?? throw new InvalidDataException($"line {count} is not a classify result");
            yield return (result, made);
        }
    }

    private static string Describe(Provenance? made) => made is null
        ? "a classify build that did not record its model"
        : $"model {made.Model} (model_sha256 {made.ModelSha256}, classify {made.ClassifyVersion})";

    /// <summary>The provenance of the first record in shard order, and the shard it is in; null when no shard holds a
    /// record (every record must then agree with it).</summary>
    private static (Provenance? Made, string Shard)? FirstProvenance(List<(string Path, ShardTrailer Trailer)> split)
    {
        foreach (var (shard, _) in split)
        {
            if (ParquetResultReader.IsParquet(shard))
            {
                foreach (var (_, firstMade) in ParquetResultReader.Read(shard))
                    return (firstMade, shard);
                continue;
            }
            using var input = new FileStream(shard, FileMode.Open, FileAccess.Read, FileShare.Read);
            var lines = new LineScanner(input);
            // Copy names a first line that does not parse.
            if (lines.TryRead(out var line, out _) && ResultJson.TryParse(line.Span, out var made) is not null)
                return (made, shard);
            if (!ShardTrailer.LooksLikeOne(line.Span))
                return null;
        }
        return null;
    }
}
