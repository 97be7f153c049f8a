using Classify.Inputs;
using Xunit;

namespace Classify.Tests;

public sealed class LauncherTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void Open_mpi_ranks_win_over_the_srun_step_that_started_mpiruns_daemons()
    {
        // mpirun inside an allocation: its daemons run in an srun step of one task per node, which the ranks inherit.
        var l = Launcher.Detect(Env(("OMPI_COMM_WORLD_RANK", "5"), ("OMPI_COMM_WORLD_SIZE", "8"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1"),
            ("SLURM_PROCID", "1"), ("SLURM_STEP_NUM_TASKS", "2")))!;
        Assert.Equal(("Open MPI", 5, 8, (int?)1), (l.Name, l.Rank, l.Size, l.LocalRank));
        Assert.Equal(new Shard(5, 8), l.ShardOf(Shard.Whole));
    }

    [Theory]
    [InlineData("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPICH/Intel MPI (PMI)")]
    [InlineData("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_LOCAL_RANK", "MVAPICH2")]
    [InlineData("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID", "Slurm srun")]
    public void Each_launchers_variables_give_rank_size_and_local_rank(string rank, string size, string local, string name)
    {
        var l = Launcher.Detect(Env((rank, "2"), (size, "3"), (local, "0")))!;
        Assert.Equal((name, 2, 3, (int?)0), (l.Name, l.Rank, l.Size, l.LocalRank));
    }

    [Fact]
    public void One_rank_or_no_launcher_is_a_plain_run()
    {
        Assert.Null(Launcher.Detect(Env(("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "1"))));
        Assert.Null(Launcher.Detect(Env(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4")))); // a batch script, not a step
    }

    [Fact]
    public void A_rank_outside_the_size_is_a_usage_error() =>
        Assert.Equal(ExitCode.Usage, Assert.Throws<ClassifyException>(() => Launcher.Detect(Env(("PMI_RANK", "4"), ("PMI_SIZE", "4")))).ExitCode);

    [Fact]
    public void An_array_tasks_share_is_split_again_among_the_ranks()
    {
        var l = Launcher.Detect(Env(("OMPI_COMM_WORLD_RANK", "1"), ("OMPI_COMM_WORLD_SIZE", "4")))!;
        Assert.Equal(new Shard(2 * 4 + 1, 3 * 4), l.ShardOf(new Shard(2, 3)));
    }

    [Theory]
    [InlineData(null, 3, 3)]          // unset: the local rank
    [InlineData("0,1", 3, 1)]         // two visible GPUs, four local ranks: 0 1 0 1
    [InlineData("2", 3, 0)]           // already narrowed to one GPU (Slurm --gpus-per-task=1)
    [InlineData("GPU-a,GPU-b,GPU-c,GPU-d", 2, 2)]
    public void The_gpu_is_the_local_rank_among_the_visible_ones(string? visible, int local, int expected)
    {
        var l = new Launcher("Open MPI", local, 8, local);
        Assert.Equal(expected, l.Gpu(visible).Index);
    }
}
