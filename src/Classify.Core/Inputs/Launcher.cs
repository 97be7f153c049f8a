using System.Globalization;

namespace Classify.Inputs;

/// <summary>
/// Where this process stands among the processes a parallel launcher started: its world rank and size (its shard of
/// the input) and its rank on this node (its GPU). Read from the launcher's environment only: classify runs one
/// process per rank but never communicates, so it needs no MPI library and works with the host's MPI starting the
/// container (`mpirun -np 8 singularity exec --nv classifier.sif classify ...`).
/// </summary>
public sealed record Launcher(string Name, int Rank, int Size, int? LocalRank)
{
    // Each launcher's own variables, most specific first. MPI's come before Slurm's: mpirun inside an allocation
    // starts its daemons with srun, and the ranks inherit that step's SLURM_PROCID (the node index) and
    // SLURM_STEP_NUM_TASKS (the node count), which are not the ranks.
    private static readonly (string Name, string Rank, string Size, string LocalRank)[] Known =
    [
        ("Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
        ("MVAPICH2", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_LOCAL_RANK"),
        ("MPICH/Intel MPI (PMI)", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
        ("PMIx", "PMIX_RANK", "PMIX_SIZE", "PMIX_LOCAL_RANK"),
        // srun: only a step sets SLURM_STEP_NUM_TASKS (a batch script with --ntasks=4 is one process).
        ("Slurm srun", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID"),
    ];

    /// <summary>The launcher that started this process with more than one rank; null for a plain run.</summary>
    public static Launcher? Detect(Func<string, string?> environment)
    {
        foreach (var (name, rank, size, local) in Known)
        {
            if (environment(rank) is not { Length: > 0 } rankText || environment(size) is not { Length: > 0 } sizeText)
                continue;
            var r = Number(rank, rankText);
            var s = Number(size, sizeText);
            if (s <= 1) return null;
            if (r >= s)
                throw new ClassifyException(ExitCode.Usage, null, $"cannot take the shard from {name}: {rank}={r} is not below {size}={s}; pass --shard I/N");
            return new Launcher(name, r, s, environment(local) is { Length: > 0 } l ? Number(local, l) : null);
        }
        return null;
    }

    /// <summary>This rank's shard of <paramref name="outer"/> (a Slurm array task's shard, or the whole input): each
    /// array task's part is split again among the ranks, which is the same as one split into tasks x ranks shards.</summary>
    public Shard ShardOf(Shard outer) => new(outer.Index * Size + Rank, outer.Count * Size);

    /// <summary>
    /// The GPU this rank uses, among the visible ones: the node-local rank modulo the GPUs CUDA_VISIBLE_DEVICES lists,
    /// so 4 ranks on a 4-GPU node take one each; where Slurm or the user already narrowed CUDA_VISIBLE_DEVICES to
    /// one GPU, that one (index 0); where it is unset, the local rank itself. Returns the index and why.
    /// </summary>
    public (int Index, string Why) Gpu(string? cudaVisibleDevices)
    {
        var local = LocalRank ?? 0;
        var localText = LocalRank is null ? "no local rank given by the launcher" : $"local rank {local}";
        if (cudaVisibleDevices is null)
            return (local, $"{localText}; CUDA_VISIBLE_DEVICES unset");
        var visible = cudaVisibleDevices.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Length;
        if (visible <= 1)
            return (0, $"CUDA_VISIBLE_DEVICES=\"{cudaVisibleDevices}\" already names this task's GPU");
        return (local % visible, $"{localText} of the {visible} GPUs in CUDA_VISIBLE_DEVICES=\"{cudaVisibleDevices}\"");
    }

    private static int Number(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ClassifyException(ExitCode.Usage, null, $"{name}={text}: not a non-negative integer");
}
