using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Classify.Tests;

/// <summary>--format parquet through the binary (the AOT one too, via install-test.sh): the format from the extension,
/// the same rows as jsonl, errors, standard output refused, a SIGKILLed run resumed, a sharded run merged, and names
/// that are not UTF-8. Every file is read back with Parquet.Net (<see cref="ParquetRows"/>).</summary>
public sealed class ParquetOutputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Broken()
    {
        var broken = _dir.File("broken.png");
        File.WriteAllBytes(broken, [.. File.ReadAllBytes(TestData.Chelsea).AsSpan(0, 200)]);
        return broken;
    }

    [Fact]
    public void A_parquet_file_holds_the_rows_jsonl_holds_with_errors_and_provenance()
    {
        string[] inputs = [TestData.Chelsea, Broken(), TestData.Images];
        var parquet = _dir.File("r.parquet");
        var r = ClassifyProcess.Run([.. inputs, "-o", parquet]);
        Assert.Equal(ExitCode.SomeImagesFailed, r.ExitCode);
        var jsonl = ClassifyProcess.Run([.. inputs, "-f", "jsonl"]);
        var rows = ParquetRows.Read(parquet);
        var lines = jsonl.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, rows.Count);
        Assert.Equal(lines.Length, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var line = JsonDocument.Parse(lines[i]).RootElement;
            var row = rows[i];
            Assert.Equal(line.GetProperty("file").GetString(), row.File);
            Assert.Null(row.FileBytes);
            Assert.Equal(line.GetProperty("model").GetString(), row.Model);
            Assert.Equal(line.GetProperty("model_sha256").GetString(), row.ModelSha256);
            Assert.Equal(line.GetProperty("classify_version").GetString(), row.ClassifyVersion);
            if (line.TryGetProperty("error", out var error))
            {
                Assert.Null(row.Labels);
                Assert.Null(row.Scores);
                Assert.Equal(error.GetProperty("code").GetInt32(), row.ErrorCode);
                Assert.Equal(error.GetProperty("kind").GetString(), row.ErrorKind);
                Assert.Equal(error.GetProperty("message").GetString(), row.Error);
                continue;
            }
            var predictions = line.GetProperty("predictions").EnumerateArray().ToList();
            Assert.Equal(predictions.Select(p => p.GetProperty("label").GetString()), row.Labels!);
            Assert.Equal(predictions.Select(p => p.GetProperty("class").GetInt32()), row.Classes!);
            Assert.Equal(predictions.Select(p => p.GetProperty("synset").GetString()), row.Synsets!);
            // jsonl prints the float with six decimals; parquet keeps the float itself.
            Assert.Equal(predictions.Select(p => p.GetProperty("score").GetRawText()),
                row.Scores!.Select(s => ((double)s).ToString("F6", CultureInfo.InvariantCulture)));
            Assert.Null(row.ErrorCode);
        }
        Assert.Equal((TestData.Chelsea, "Egyptian cat"), (rows[0].File, rows[0].Labels![0]));
        Assert.Equal((ExitCode.ImageCorrupt, "ImageCorrupt"), (rows[1].ErrorCode, rows[1].ErrorKind));
    }

    [Theory]
    [InlineData("-o", "x.csv", "--format parquet contradicts --output")]
    [InlineData("-o", "-", "--format parquet is written to a file, not to standard output")]
    [InlineData("-n", "1", "--format parquet is written to a file, not to standard output")]
    public void Parquet_to_standard_output_or_to_another_formats_file_is_a_usage_error(string option, string value, string message)
    {
        var r = ClassifyProcess.Run(TestData.Chelsea, "-f", "parquet", option, value == "x.csv" ? _dir.File(value) : value);
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Single(r.Stderr.Trim().Split('\n'));
        Assert.Contains(message, r.Stderr);
        var merge = ClassifyProcess.Run("merge", "-f", "parquet", "-o", "-", _dir.File("none.parquet"));
        Assert.Equal(ExitCode.Usage, merge.ExitCode);
        Assert.Contains("--format parquet is written to a file, not to standard output", merge.Stderr);
    }

    [Fact]
    public async Task A_killed_parquet_run_resumes_from_its_journal_into_the_file_an_uninterrupted_run_writes()
    {
        var photos = await InterruptedRun.BigPhotos(Path.Combine(_dir.Path, "big"), 24);
        var output = _dir.File("big.parquet");
        string[] args = [photos, TestData.Images, "-o", output, "--batch_size", "1"];
        var (run, _) = await InterruptedRun.StartUntilJournaled(args, output, records: 2);
        using (run)
        {
            run.Kill(); // SIGKILL: no handler runs
            await run.WaitForExitAsync();
        }
        Assert.False(File.Exists(output));
        var resumed = ClassifyProcess.Run([.. args, "--verbose"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Matches(@"resuming: ([2-9]|1[0-9]|2[0-7]) of 28 images already done", resumed.Stderr);
        Assert.False(File.Exists(output + ".partial"));

        var clean = _dir.File("clean.parquet");
        Assert.Equal(0, ClassifyProcess.Run(photos, TestData.Images, "-o", clean, "--batch_size", "1").ExitCode);
        Assert.Equal(28, ParquetRows.Read(output).Count);
        Assert.Equal(File.ReadAllBytes(clean), File.ReadAllBytes(output));
    }

    [Fact]
    public void A_sharded_parquet_run_merges_into_the_file_one_run_writes_and_a_missing_shard_is_named()
    {
        string[] inputs = [TestData.Chelsea, Broken(), TestData.Images];
        var one = _dir.File("one.parquet");
        Assert.Equal(ExitCode.SomeImagesFailed, ClassifyProcess.Run([.. inputs, "-o", one]).ExitCode);
        var shards = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var r = ClassifyProcess.Run([.. inputs, "--shard", $"{i}/2", "-o", _dir.File("r.{shard}.parquet")]);
            Assert.True(r.ExitCode is 0 or ExitCode.SomeImagesFailed, r.Stderr);
            shards.Add(Assert.Single(Directory.GetFiles(_dir.Path, $"r.shard-*{i}-of-*2.parquet")));
            Assert.StartsWith("{\"classify_shard\":{\"index\":" + i + ",\"count\":2,\"records\":3,", ParquetRows.Metadata(shards[i])["classify_shard"]);
        }
        var merged = _dir.File("merged.parquet");
        var merge = ClassifyProcess.Run("merge", "-o", merged, shards[1], shards[0]);
        Assert.True(merge.ExitCode == 0, merge.Stderr);
        Assert.Equal(File.ReadAllBytes(one), File.ReadAllBytes(merged));

        var jsonl = ClassifyProcess.Run("merge", "-o", "-", shards[0], shards[1]);
        Assert.Equal(ClassifyProcess.Run([.. inputs, "-f", "jsonl"]).Stdout, jsonl.Stdout);

        var missing = ClassifyProcess.Run("merge", "-o", _dir.File("m2.parquet"), shards[0]);
        Assert.Equal(ExitCode.ShardInvalid, missing.ExitCode);
        Assert.Contains("missing: 1 of 2 shards not given (shard 1)", missing.Stderr);
        Assert.Contains(Path.GetFileName(shards[1]), missing.Stderr);
        Assert.False(File.Exists(_dir.File("m2.parquet")));

        File.WriteAllBytes(shards[1], File.ReadAllBytes(shards[1])[..^30]);
        var cut = ClassifyProcess.Run("merge", "-o", _dir.File("m3.parquet"), shards[0], shards[1]);
        Assert.Equal(ExitCode.ShardInvalid, cut.ExitCode);
        Assert.StartsWith($"classify: {shards[1]}: is not a complete Parquet file", cut.Stderr);
        Assert.Single(cut.Stderr.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", cut.Stderr);
    }

    [Fact]
    public void A_name_that_is_not_utf8_is_escaped_in_file_and_kept_exactly_in_file_bytes()
    {
        var r = ClassifyProcess.RunScript($"cp '{TestData.Chelsea}' $'caf\\xe9.png' && exec \"$CLASSIFY\" $'caf\\xe9.png' '{TestData.Coffee}' -o r.parquet", _dir.Path);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var rows = ParquetRows.Read(_dir.File("r.parquet"));
        Assert.Equal("caf\\xe9.png", rows[0].File);
        Assert.Equal([.. "caf"u8, 0xE9, .. ".png"u8], rows[0].FileBytes);
        Assert.Equal("Egyptian cat", rows[0].Labels![0]);
        Assert.Equal((TestData.Coffee, null), (rows[1].File, rows[1].FileBytes));
    }
}
