using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Output;
using Classify.Pipeline;
using Classify.Tests.Fakes;

namespace Classify.Tests.Pipeline;

/// <summary>The run's result sink in-process, on the fake backend and the real photos: what it writes, journals, says on
/// stderr and counts, and a journal's records replayed, not classified again.</summary>
public sealed class ResultSinkTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private (ResultSink Sink, string[] Lines, string Errors) Run(List<string> inputs, ResultJournal? journal, bool retryFailed = false)
    {
        var runner = FakeBackend.Runner(new FakeBackend(), batchSize: 2, topK: 1);
        var errors = new StringWriter();
        var output = new StringWriter();
        var sink = new ResultSink(errors, new ProgressOptions { Quiet = true }) { RetryFailed = retryFailed };
        sink.Run(runner, inputs, ResultWriter.Create(OutputFormat.Jsonl, output, new RunInfo(null, "fake", "cpu", 1), singleInput: false), journal, default);
        return (sink, output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), errors.ToString());
    }

    private List<string> BrokenCatCoffee()
    {
        var broken = _dir.File("broken.png");
        File.WriteAllBytes(broken, File.ReadAllBytes(TestData.Coffee)[..5000]);
        return [broken, TestData.Chelsea, TestData.Coffee];
    }

    [Fact]
    public void Every_result_is_written_and_each_failure_is_one_line_and_counted()
    {
        var inputs = BrokenCatCoffee();
        var (sink, lines, errors) = Run(inputs, journal: null);
        Assert.Equal(3, lines.Length);
        Assert.Equal([$"classify: {inputs[0]}: truncated PNG file (it ends before the image data does)"], errors.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal((1, 0, 3), (sink.Failed, sink.Resumed, sink.Done));
        Assert.Equal(ExitCode.SomeImagesFailed, sink.ExitCode(3));
        Assert.Equal(ExitCode.ImageCorrupt, sink.ExitCode(1));
    }

    [Fact]
    public void A_journals_records_are_replayed_and_counted_not_classified_again()
    {
        var inputs = BrokenCatCoffee();
        var output = _dir.File("out.jsonl");
        using (var first = ResultJournal.Open(output, "settings", inputs, 1, _ => { }))
            first.Append(ImageResult.Failed(inputs[0], new ClassifyException(ExitCode.ImageCorrupt, inputs[0], "truncated PNG file (it ends before the image data does)")));
        // The broken file is replaced by a good photo: a replay keeps the journaled error, a new read would classify it.
        File.Copy(TestData.Chelsea, inputs[0], overwrite: true);
        using var journal = ResultJournal.Open(output, "settings", inputs, 1, _ => { });
        Assert.Equal(1, journal.Finished);
        var (sink, lines, errors) = Run(inputs, journal);
        Assert.Equal(3, lines.Length);
        Assert.Contains("\"kind\":\"ImageCorrupt\"", lines[0]);
        // Replayed errors are not said again, only counted, with the way to read them again.
        Assert.Equal($"classify: 1 of the 1 results resumed from {journal.Path} are recorded failures, replayed as they were (--retry_failed reads them again)\n", errors);
        Assert.Equal((1, 1, 3), (sink.Failed, sink.Resumed, sink.Done));
    }

    [Theory]
    [InlineData(ExitCode.ImageUnreadable, false)] // "Too many open files" said nothing about the file: always read again
    [InlineData(ExitCode.ImageCorrupt, true)] // final, unless --retry_failed
    public void A_journaled_failure_that_may_pass_now_is_read_again_in_its_place(int code, bool retryFailed)
    {
        var inputs = BrokenCatCoffee();
        var output = _dir.File("out.jsonl");
        using (var first = ResultJournal.Open(output, "settings", inputs, 1, _ => { }))
        {
            first.Append(ImageResult.Failed(inputs[0], new ClassifyException(code, inputs[0], "cannot read: Too many open files")));
            first.Append(ImageResult.Failed(inputs[1], new ClassifyException(ExitCode.ImageUnsupported, inputs[1], "not an image in a supported format")));
        }
        File.Copy(TestData.Chelsea, inputs[0], overwrite: true);
        using var journal = ResultJournal.Open(output, "settings", inputs, 1, _ => { });

        var (sink, lines, errors) = Run(inputs, journal, retryFailed);

        Assert.Equal(3, lines.Length);
        var cat = $"\"label\":\"{FakeBackend.Expected(TestData.Chelsea)}\"";
        Assert.Contains(cat, lines[0]); // read again, in its place
        Assert.Contains(retryFailed ? cat : "\"kind\":\"ImageUnsupported\"", lines[1]);
        Assert.Contains($"\"label\":\"{FakeBackend.Expected(TestData.Coffee)}\"", lines[2]);
        Assert.Equal(retryFailed ? (0, 2, 0) : (1, 1, 1), (sink.Failed, sink.Retried, sink.Resumed));
        Assert.Equal(retryFailed ? "" : $"classify: 1 of the 1 results resumed from {journal.Path} are recorded failures, replayed as they were (--retry_failed reads them again)\n", errors);
    }
}
