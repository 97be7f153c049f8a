namespace Classify.Output;

/// <summary>
/// merge's half for --features: a sharded run's shards each have their embeddings beside them
/// (results.shard-0003-of-0016.features.npy), and the merged results get theirs (results.features.npy), the shards'
/// rows joined in shard order, as their records are. Checked first, before anything is written: every shard has one
/// or none has, each holds exactly its shard's record count in rows, and all have one dtype and width; then, as the
/// rows are copied, each file's rows must have the SHA-256 its shard's trailer names (an embeddings file of another
/// run, or one changed since, is refused, and the merged file is not written). Exit 30.
/// </summary>
internal static class ShardFeatures
{
    /// <returns>The shards' embeddings files in shard order with their headers, or null when the shards have none.</returns>
    public static List<(string Path, Features.NpyHeader Header, string Sha256)>? Check(List<(string Path, ShardTrailer Trailer)> split, string? output)
    {
        var files = split.Select(s => (Shard: s.Path, s.Trailer, Npy: Features.FeaturesFile.PathFor(s.Path))).ToList();
        // The trailers say which shards were run with --features; a .npy beside a shard whose trailer names none is
        // not its embeddings.
        var with = files.Where(f => f.Trailer.FeaturesSha256 is not null).ToList();
        if (with.Count == 0)
        {
            var stray = files.FirstOrDefault(f => File.Exists(f.Npy));
            if (stray.Npy is not null)
                throw new ClassifyException(ExitCode.ShardInvalid, stray.Npy,
                    $"is beside {stray.Shard}, whose trailer says it was run without --features: not its embeddings; remove it, or rerun the shards with --features");
            return null;
        }
        if (with.Count < files.Count)
        {
            var without = files.First(f => f.Trailer.FeaturesSha256 is null);
            throw new ClassifyException(ExitCode.ShardInvalid, without.Shard,
                $"was run without --features, but {with[0].Shard} with: rerun that shard with --features");
        }
        var missing = files.FirstOrDefault(f => !File.Exists(f.Npy));
        if (missing.Npy is not null)
            throw new ClassifyException(ExitCode.ShardInvalid, missing.Npy,
                $"missing: {missing.Shard} was run with --features, but its embeddings are not beside it");
        if (output is null)
            throw new ClassifyException(ExitCode.Usage, null,
                $"the shards have embeddings ({with[0].Npy}, ...): give --output FILE so that they are merged beside it (FILE's name with .features.npy)");
        var result = new List<(string, Features.NpyHeader, string)>();
        foreach (var (shard, trailer, npy) in files)
        {
            var header = ShardMerge.GuardShard(npy, () => Features.NpyHeader.Read(npy));
            if (header.Rows != trailer.Records)
                throw new ClassifyException(ExitCode.ShardInvalid, npy,
                    $"holds {header.Rows} embeddings, but {shard} holds {trailer.Records} records: not the embeddings of that shard file");
            var (firstNpy, firstHeader, _) = result.Count > 0 ? result[0] : (npy, header, "");
            if (header.Dtype != firstHeader.Dtype || header.Width != firstHeader.Width)
                throw new ClassifyException(ExitCode.ShardInvalid, npy,
                    $"holds {header.Width} {header.Descr} values per row, but {firstNpy} {firstHeader.Width} {firstHeader.Descr}: embeddings of different models or --features_dtype are not merged");
            result.Add((npy, header, trailer.FeaturesSha256!));
        }
        return result;
    }

    /// <summary>Writes the shards' rows, in order, into <paramref name="path"/> (atomically).</summary>
    public static void Merge(List<(string Path, Features.NpyHeader Header, string Sha256)> shards, string path)
    {
        var first = shards[0].Header;
        using var merged = new Features.FeaturesFile(path, first.Width, first.Dtype);
        var buffer = new byte[Math.Max(first.RowBytes, 1 << 20) / Math.Max(first.RowBytes, 1) * Math.Max(first.RowBytes, 1)];
        foreach (var (npy, header, sha256) in shards)
        {
            ShardMerge.GuardShard(npy, () =>
            {
                using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
                using var input = new FileStream(npy, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
                input.Position = Features.NpyHeader.Length;
                var left = header.Rows * header.RowBytes;
                while (left > 0)
                {
                    var n = input.ReadAtLeast(buffer.AsSpan(0, (int)Math.Min(buffer.Length, left)), (int)Math.Min(buffer.Length, left), throwOnEndOfStream: false);
                    if (n == 0) throw new InvalidDataException("ended while merging: changed since it was checked");
                    merged.WriteRaw(buffer.AsSpan(0, n));
                    hash.AppendData(buffer, 0, n);
                    left -= n;
                }
                if (Convert.ToHexStringLower(hash.GetCurrentHash()) != sha256)
                    throw new InvalidDataException("holds other embeddings than its shard's trailer names (features_sha256 differs): another run's, or changed since");
                return 0;
            });
        }
        merged.Commit();
    }
}
