using System.Text;
using Classify.Inference;
using Classify.Output;
using Classify.Pipeline;

namespace Classify.Tests.Output;

public sealed class ResultJournalTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly List<string> _notes = [];
    private readonly string[] _inputs = [TestData.Chelsea, TestData.Coffee, TestData.Rocket, TestData.Astronaut];

    public void Dispose() => _dir.Dispose();

    private string Output => _dir.File("results.jsonl");

    private ResultJournal Open(string fingerprint = "run-a", IReadOnlyList<string>? inputs = null) =>
        ResultJournal.Open(Output, fingerprint, inputs ?? _inputs, flushEvery: 2, _notes.Add);

    // Scores with more digits than the jsonl format keeps, so that a rounding journal would be caught; a synset on one
    // prediction and not the other, so that replay must keep both as they were.
    private static ImageResult Result(string file, int i) => i % 3 == 2
        ? ImageResult.Failed(file, new ClassifyException(ExitCode.ImageCorrupt, file, "not a valid PNG (truncated)"))
        : ImageResult.Ok(file, [new Prediction("Egyptian cat", 285, 0.92151666f - i * 0.1f, "n02124075"), new Prediction("tabby, tabby cat", 281, 0.057396412f)]);

    private static List<ImageResult> Replayed(ResultJournal journal)
    {
        var results = new List<ImageResult>();
        journal.Replay((_, r) => results.Add(r));
        return results;
    }

    private static void AssertSame(ImageResult expected, ImageResult actual)
    {
        Assert.Equal(expected.File, actual.File);
        Assert.Equal(expected.Error, actual.Error);
        Assert.Equal(expected.Predictions, actual.Predictions);
    }

    [Fact]
    public void A_new_journal_has_nothing_finished()
    {
        using var journal = Open();
        Assert.Equal(0, journal.Finished);
        Assert.Equal(Output + ".partial", journal.Path);
        Assert.Empty(_notes);
    }

    [Fact]
    public void A_rerun_replays_the_finished_results_exactly()
    {
        var written = _inputs.Take(3).Select(Result).ToList();
        using (var first = Open())
            written.ForEach(first.Append);

        using var again = Open();
        Assert.Equal(3, again.Finished);
        var replayed = Replayed(again);
        Assert.Equal(3, replayed.Count);
        for (var i = 0; i < 3; i++)
            AssertSame(written[i], replayed[i]);
        Assert.Contains(_notes, n => n.Contains("resuming: 3 of 4 images"));
    }

    [Fact]
    public void A_record_torn_by_a_killed_process_is_dropped_and_overwritten()
    {
        using (var first = Open())
        {
            first.Append(Result(_inputs[0], 0));
            first.Append(Result(_inputs[1], 1));
        }
        File.AppendAllText(Output + ".partial", "{\"file\":\"" + _inputs[2] + "\",\"predictions\":[{\"lab");

        using (var again = Open())
        {
            Assert.Equal(2, again.Finished);
            again.Append(Result(_inputs[2], 2));
            again.Append(Result(_inputs[3], 3));
        }
        using var third = Open();
        Assert.Equal(4, third.Finished);
        Assert.Equal(_inputs, Replayed(third).Select(r => r.File));
    }

    [Fact]
    public void Records_before_an_endless_line_are_kept_and_the_line_dropped()
    {
        using (var first = Open())
            first.Append(Result(_inputs[0], 0));
        using (var f = new FileStream(Output + ".partial", FileMode.Append))
            f.Write(new byte[LineScanner.MaxLineBytes + 100]); // zeros without a newline: a disk that filled with junk

        using var again = Open();
        Assert.Equal(1, again.Finished);
        Assert.Equal([_inputs[0]], Replayed(again).Select(r => r.File));
        Assert.True(new FileInfo(Output + ".partial").Length < 4096);
    }

    [Fact]
    public void A_journal_of_another_run_is_started_over()
    {
        using (var first = Open("run-a"))
            first.Append(Result(_inputs[0], 0));

        using var other = Open("run-b");
        Assert.Equal(0, other.Finished);
        Assert.Contains(_notes, n => n.Contains("starting over"));
        Assert.Single(File.ReadAllLines(other.Path));
    }

    [Fact]
    public void Records_are_reused_only_up_to_the_first_input_that_differs()
    {
        using (var first = Open())
        {
            for (var i = 0; i < 4; i++)
                first.Append(Result(_inputs[i], i));
        }
        string[] changed = [_inputs[0], _inputs[1], TestData.Chelsea + ".other", _inputs[3]];

        using var again = Open(inputs: changed);
        Assert.Equal(2, again.Finished);
    }

    [Fact]
    public void A_journal_that_is_not_one_is_started_over()
    {
        File.WriteAllText(Output + ".partial", "someone else's notes\n");
        using var journal = Open();
        Assert.Equal(0, journal.Finished);
        Assert.StartsWith("{\"classify_journal\":1", File.ReadAllText(journal.Path, Encoding.UTF8));
    }

    [Fact]
    public void Delete_removes_the_journal()
    {
        var journal = Open();
        journal.Append(Result(_inputs[0], 0));
        journal.Delete();
        journal.Dispose();
        Assert.False(File.Exists(Output + ".partial"));
    }

    [Fact]
    public void The_fingerprint_changes_with_any_setting_or_input()
    {
        var a = ResultJournal.Fingerprint(["squeezenet1.1", "5"], _inputs);
        Assert.Equal(a, ResultJournal.Fingerprint(["squeezenet1.1", "5"], _inputs));
        Assert.NotEqual(a, ResultJournal.Fingerprint(["squeezenet1.1", "3"], _inputs));
        Assert.NotEqual(a, ResultJournal.Fingerprint(["squeezenet1.1", "5"], _inputs.Reverse()));
        // Parts are separated, so moving a boundary is a different run.
        Assert.NotEqual(ResultJournal.Fingerprint(["ab", "c"], []), ResultJournal.Fingerprint(["a", "bc"], []));
    }

    private static readonly Classify.Models.Labels SqueezeNetLabels =
        Classify.Models.Labels.Load(new Classify.Models.ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _));

    /// <summary>A journal of three real-looking records (labels as squeezenet1.1 names them), the second forged by
    /// <paramref name="forge"/>, reopened with the record check of a top-2 run.</summary>
    private (ResultJournal Journal, List<string> Notes) ForgedSecond(Func<string, string> forge)
    {
        ImageResult Real(string file) => ImageResult.Ok(file, [new Prediction("Egyptian cat", 285, 0.92f, "n02124075"), new Prediction("tabby, tabby cat", 281, 0.05f, "n02123045")]);
        using (var first = Open())
            foreach (var f in _inputs.Take(3)) first.Append(Real(f));
        var lines = File.ReadAllLines(Output + ResultJournal.Suffix);
        var forged = forge(lines[2]);
        Assert.NotEqual(lines[2], forged);
        lines[2] = forged;
        File.WriteAllLines(Output + ResultJournal.Suffix, lines);
        var notes = new List<string>();
        return (ResultJournal.Open(Output, "run-a", _inputs, 2, notes.Add, new RecordCheck(SqueezeNetLabels, 2)), notes);
    }

    [Theory]
    [InlineData("\"Egyptian cat\",\"synset\":\"n02124075\",\"class\":285", "\"Persian cat\",\"synset\":\"n02124075\",\"class\":285", "class 285 is not named 'Persian cat' (n02124075) by the model's labels")]
    [InlineData("\"class\":285", "\"class\":1000", "class 1000 is not one of the model's 1000 classes")]
    [InlineData("\"score\":0.92", "\"score\":1.5", "score 1.5 is not a probability")]
    [InlineData("\"score\":0.05", "\"score\":0.95", "scores are not in descending order")]
    [InlineData(",{\"label\":\"tabby, tabby cat\"", ",{\"label\":\"x\",\"class\":1,\"score\":0.01},{\"label\":\"tabby, tabby cat\"", "3 predictions, but this run reports 2")]
    public void A_forged_record_is_not_replayed_nor_anything_after_it(string real, string fake, string problem)
    {
        var (journal, notes) = ForgedSecond(line => line.Replace(real, fake, StringComparison.Ordinal));
        using (journal)
        {
            Assert.Equal(1, journal.Finished);
            Assert.Single(Replayed(journal));
        }
        Assert.Equal([$"{Output}.partial: record 2 does not fit this run: {problem}; resuming only the 1 before it",
            $"{Output}: resuming: 1 of 4 images already done (from {Output}.partial)"], notes);
    }

    [Fact]
    public void A_forged_error_record_is_not_replayed()
    {
        var (journal, notes) = ForgedSecond(line => line[..line.IndexOf(",\"predictions\"", StringComparison.Ordinal)]
            + ",\"error\":{\"code\":30,\"kind\":\"ShardInvalid\",\"message\":\"x\"}}");
        using (journal)
            Assert.Equal(1, journal.Finished);
        Assert.Contains("error code 30 (ShardInvalid) is not an image error classify reports", notes[0]);
    }

    [Fact]
    public void A_record_for_another_input_is_named_and_not_replayed()
    {
        var (journal, notes) = ForgedSecond(line => line.Replace(TestData.Coffee, TestData.Astronaut, StringComparison.Ordinal));
        using (journal)
            Assert.Equal(1, journal.Finished);
        Assert.Equal($"{Output}.partial: record 2 is for {TestData.Astronaut}, not input 2 ({TestData.Coffee}); resuming only the 1 before it", notes[0]);
    }

    [Fact]
    public void Real_records_pass_the_check()
    {
        var (journal, notes) = ForgedSecond(line => line.Replace("0.05", "0.06", StringComparison.Ordinal));
        using (journal)
            Assert.Equal(3, journal.Finished);
        Assert.Equal($"{Output}: resuming: 3 of 4 images already done (from {Output}.partial)", Assert.Single(notes));
    }

    [Fact]
    public void Another_users_journal_is_refused_and_left_alone()
    {
        // On a shared scratch folder another user may leave FILE.partial, even writable by all: its records are not
        // this run's. Needs root to give the file away (CI runs as root).
        Assert.True(FileStatus.EffectiveUser() == 0, "this test gives a file to another user, which needs root");
        var partial = Output + ResultJournal.Suffix;
        File.WriteAllText(partial, "planted\n");
        Assert.Equal(0, Chown(partial, 65534, 65534));
        var e = Assert.Throws<ClassifyException>(() => Open());
        Assert.Equal(ExitCode.OutputFailed, e.ExitCode);
        Assert.Equal($"{partial}: belongs to another user (uid 65534): classify resumes only from a journal it wrote itself; remove it, or choose another --output", e.OneLine);
        Assert.Equal("planted\n", File.ReadAllText(partial));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "chown", SetLastError = true)]
    private static extern int Chown(string path, int owner, int group);

    [Fact]
    public void A_name_that_is_not_utf8_is_replayed_as_it_was()
    {
        // caf\xe9.png as Classify.Inputs.FileNames carries it: the journal stores it as a \udce9 escape.
        var latin1 = Classify.Inputs.FileNames.FromBytes([.. "photos/caf"u8, 0xE9, .. ".png"u8]);
        string[] inputs = [latin1, TestData.Coffee];
        var written = inputs.Select(Result).ToList();
        using (var first = ResultJournal.Open(Output, "run-a", inputs, 1, _notes.Add))
            first.Append(written[0]);
        Assert.Contains("\"file\":\"photos/caf\\udce9.png\"", File.ReadAllText(Output + ResultJournal.Suffix));
        using var again = ResultJournal.Open(Output, "run-a", inputs, 1, _notes.Add);
        Assert.Equal(1, again.Finished);
        AssertSame(written[0], Assert.Single(Replayed(again)));
    }
}
