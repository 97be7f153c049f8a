using Classify.Inputs;

namespace Classify.Tests.Inputs;

public sealed class ShardTests
{
    private static List<int> Items(int total) => Enumerable.Range(0, total).ToList();

    public static TheoryData<int, int> Splits()
    {
        var data = new TheoryData<int, int>();
        foreach (var total in new[] { 0, 1, 2, 7, 16, 100, 1001 })
            foreach (var count in new[] { 1, 2, 3, 4, 16, 17 })
                data.Add(total, count);
        return data;
    }

    [Theory]
    [MemberData(nameof(Splits))]
    public void Shards_in_order_hold_every_item_exactly_once(int total, int count)
    {
        var items = Items(total);
        var joined = Enumerable.Range(0, count).SelectMany(i => new Shard(i, count).Slice(items)).ToList();
        Assert.Equal(items, joined);
    }

    [Theory]
    [MemberData(nameof(Splits))]
    public void Shard_sizes_differ_by_at_most_one(int total, int count)
    {
        var sizes = Enumerable.Range(0, count).Select(i => new Shard(i, count).RangeOf(total).Length).ToList();
        Assert.InRange(sizes.Max() - sizes.Min(), 0, 1);
    }

    [Fact]
    public void The_split_depends_only_on_the_number_of_items()
    {
        // 10 over 4: the first 10 % 4 shards take one more. A change here would make reruns of old arrays
        // classify other images than their first run, so the exact ranges are pinned.
        var ranges = Enumerable.Range(0, 4).Select(i => new Shard(i, 4).RangeOf(10)).ToArray();
        Assert.Equal([(0, 3), (3, 3), (6, 2), (8, 2)], ranges);
    }

    [Fact]
    public void Shards_of_a_real_folder_join_to_the_unsharded_listing()
    {
        var all = InputSet.Enumerate(new InputOptions { Directory = TestData.Images, Recursive = true });
        Assert.True(all.Count >= 4);
        var joined = Enumerable.Range(0, 3).SelectMany(i => new Shard(i, 3).Slice(all)).ToList();
        Assert.Equal(all, joined);
    }

    [Theory]
    [InlineData("0/1", 0, 1)]
    [InlineData("3/16", 3, 16)]
    [InlineData("15/16", 15, 16)]
    public void Parse_reads_I_of_N(string text, int index, int count) =>
        Assert.Equal(new Shard(index, count), Shard.Parse(text));

    [Theory]
    [InlineData("16/16")]
    [InlineData("1/0")]
    [InlineData("-1/4")]
    [InlineData("1")]
    [InlineData("1/2/3")]
    [InlineData("a/4")]
    [InlineData("")]
    public void Parse_rejects_anything_but_I_below_N_as_a_usage_error(string text)
    {
        var e = Assert.Throws<ClassifyException>(() => Shard.Parse(text));
        Assert.Equal(ExitCode.Usage, e.ExitCode);
        Assert.Contains("--shard", e.Message);
    }

    private static Func<string, string?> Env(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value);
        return name => map.GetValueOrDefault(name);
    }

    // The variables Slurm 22.05 gives an array task (seen in jobs on the CI cluster).
    private static (string, string)[] ArrayTask(int id, int min, int max, int count) =>
    [
        ("SLURM_ARRAY_JOB_ID", "42"), ("SLURM_ARRAY_TASK_ID", $"{id}"), ("SLURM_ARRAY_TASK_MIN", $"{min}"),
        ("SLURM_ARRAY_TASK_MAX", $"{max}"), ("SLURM_ARRAY_TASK_COUNT", $"{count}"), ("SLURM_ARRAY_TASK_STEP", "1"),
    ];

    [Fact]
    public void An_array_task_takes_its_task_id_of_the_task_count() =>
        Assert.Equal(new Shard(3, 16), Shard.FromSlurm(Env(ArrayTask(3, 0, 15, 16))));

    [Fact]
    public void A_one_based_array_maps_its_first_task_to_shard_zero() =>
        Assert.Equal(new Shard(0, 4), Shard.FromSlurm(Env(ArrayTask(1, 1, 4, 4))));

    [Fact]
    public void Without_a_task_count_the_array_size_comes_from_min_and_max() =>
        Assert.Equal(new Shard(2, 4), Shard.FromSlurm(Env(("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_MAX", "3"))));

    [Fact]
    public void A_resubmission_of_some_tasks_must_name_the_shard()
    {
        // sbatch --array=3,7: two tasks, ids 3 and 7; read as shards of 2 they would classify the wrong images.
        var e = Assert.Throws<ClassifyException>(() => Shard.FromSlurm(Env(ArrayTask(7, 3, 7, 2))));
        Assert.Equal(ExitCode.Usage, e.ExitCode);
        Assert.Contains("--shard", e.Message);
    }

    [Fact]
    public void A_single_task_resubmitted_alone_must_name_the_shard() =>
        Assert.Throws<ClassifyException>(() => Shard.FromSlurm(Env(ArrayTask(5, 5, 5, 1))));

    [Fact]
    public void A_one_task_array_is_the_whole_input() =>
        Assert.Null(Shard.FromSlurm(Env(ArrayTask(0, 0, 0, 1))));

    [Fact]
    public void A_task_of_an_srun_step_takes_its_rank_of_the_step_tasks()
    {
        Assert.Null(Shard.FromSlurm(Env(("SLURM_PROCID", "2"), ("SLURM_NTASKS", "3"), ("SLURM_STEP_NUM_TASKS", "3"))));
        Assert.Equal(new Shard(2, 3), Launcher.Detect(Env(("SLURM_PROCID", "2"), ("SLURM_NTASKS", "3"), ("SLURM_STEP_NUM_TASKS", "3")))!.ShardOf(Shard.Whole));
    }

    [Fact]
    public void A_batch_script_of_a_multi_task_job_is_not_sharded()
    {
        // What the batch step of sbatch -n 3 sees (no srun): one process, which must classify everything.
        Assert.Null(Shard.FromSlurm(Env(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "3"), ("SLURM_NPROCS", "3"))));
    }

    [Fact]
    public void Outside_Slurm_there_is_no_shard() => Assert.Null(Shard.FromSlurm(Env()));

    [Fact]
    public void A_garbled_variable_is_a_usage_error_naming_it()
    {
        var e = Assert.Throws<ClassifyException>(() => Shard.FromSlurm(Env(("SLURM_ARRAY_TASK_ID", "x"))));
        Assert.Contains("SLURM_ARRAY_TASK_ID", e.Message);
    }
}
