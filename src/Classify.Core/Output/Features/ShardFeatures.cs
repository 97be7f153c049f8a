namespace Classify.Output;

/// <summary>
/// merge's half for --features: a sharded run's shards each have their embeddings beside them
/// (results.shard-0003-of-0016.features.npy), and the merged results get theirs (results.features.npy), the shards'
/// rows joined in shard order, as their records are. Checked first, before anything is written: every shard has one
/// or none has, each holds exactly its shard's record count in rows, and all have one dtype and width (exit 30).
/// </summary>
internal static class ShardFeatures
{
    /// <returns>The shards' embeddings files in shard order with their headers, or null when the shards have none.</returns>
    public static List<(string Path, Features.NpyHeader Header)>? Check(List<(string Path, ShardTrailer Trailer)> split, string? output)
    {
        var files = split.Select(s => (Shard: s.Path, s.Trailer, Npy: Features.FeaturesFile.PathFor(s.Path))).ToList();
        var with = files.Where(f => File.Exists(f.Npy)).ToList();
        if (with.Count == 0)
            return null;
        if (with.Count < files.Count)
        {
            var missing = files.First(f => !File.Exists(f.Npy));
            throw new ClassifyException(ExitCode.ShardInvalid, missing.Npy,
                $"missing: {with[0].Npy} has the embeddings of its shard (--features), but {missing.Shard} has none beside it; rerun that shard with --features");
        }
        if (output is null)
            throw new ClassifyException(ExitCode.Usage, null,
                $"the shards have embeddings ({with[0].Npy}, ...): give --output FILE so that they are merged beside it (FILE's name with .features.npy)");
        var result = new List<(string, Features.NpyHeader)>();
        foreach (var (shard, trailer, npy) in files)
        {
            var header = ShardMerge.GuardShard(npy, () => Features.NpyHeader.Read(npy));
            if (header.Rows != trailer.Records)
                throw new ClassifyException(ExitCode.ShardInvalid, npy,
                    $"holds {header.Rows} embeddings, but {shard} holds {trailer.Records} records: not the embeddings of that shard file");
            var first = result.Count > 0 ? result[0] : (npy, header);
            if (header.Dtype != first.Item2.Dtype || header.Width != first.Item2.Width)
                throw new ClassifyException(ExitCode.ShardInvalid, npy,
                    $"holds {header.Width} {header.Descr} values per row, but {first.Item1} {first.Item2.Width} {first.Item2.Descr}: embeddings of different models or --features_dtype are not merged");
            result.Add((npy, header));
        }
        return result;
    }

    /// <summary>Writes the shards' rows, in order, into <paramref name="path"/> (atomically).</summary>
    public static void Merge(List<(string Path, Features.NpyHeader Header)> shards, string path)
    {
        var first = shards[0].Header;
        using var merged = new Features.FeaturesFile(path, first.Width, first.Dtype);
        var buffer = new byte[Math.Max(first.RowBytes, 1 << 20) / Math.Max(first.RowBytes, 1) * Math.Max(first.RowBytes, 1)];
        foreach (var (npy, header) in shards)
        {
            ShardMerge.GuardShard(npy, () =>
            {
                using var input = new FileStream(npy, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                input.Position = Features.NpyHeader.Length;
                var left = header.Rows * header.RowBytes;
                while (left > 0)
                {
                    var n = input.ReadAtLeast(buffer.AsSpan(0, (int)Math.Min(buffer.Length, left)), (int)Math.Min(buffer.Length, left), throwOnEndOfStream: false);
                    if (n == 0) throw new InvalidDataException("ended while merging: changed since it was checked");
                    merged.WriteRaw(buffer.AsSpan(0, n));
                    left -= n;
                }
                return 0;
            });
        }
        merged.Commit();
    }
}
