using Classify.Output;

namespace Classify.Pipeline;

/// <summary>
/// Where one run's results go, in input order: the writer, the resume journal, one "classify: FILE: problem" line per
/// failed image, the progress line, and the counts that the exit code and the cancel message come from. A journal's
/// finished records are replayed into the writer first (never read or classified again); the rest are classified.
/// </summary>
public sealed class ResultSink(TextWriter errors, ProgressOptions progressOptions)
{
    /// <summary>Images with an error so far, replayed ones included.</summary>
    public int Failed { get; private set; }

    /// <summary>Images whose results came from the journal.</summary>
    public int Resumed { get; private set; }

    /// <summary>Images whose results were written, replayed ones included.</summary>
    public int Done { get; private set; }

    public ImageError? LastError { get; private set; }

    /// <summary>The progress line of a run of more than one image, once <see cref="Run"/> has started it.</summary>
    public ProgressReporter? Progress { get; private set; }

    /// <summary>Replays <paramref name="journal"/>'s finished records into <paramref name="writer"/>, classifies the rest of
    /// <paramref name="inputs"/> with <paramref name="runner"/>, writing and journaling each result as it comes, and
    /// completes the writer.</summary>
    public void Run(ClassificationRunner runner, List<string> inputs, ResultWriter writer, ResultJournal? journal, CancellationToken cancel,
        Output.Features.FeaturesFile? features = null)
    {
        // Failures the journal holds that said nothing about the file (a permission, too many open files: exit 17), or
        // all of them with --retry_failed, are read again before the rest is replayed in order around them.
        var retry = journal?.Failures.Where(f => RetryFailed || f.Code == Classify.ExitCode.ImageUnreadable).Select(f => f.Index).ToList() ?? [];
        var again = new Dictionary<int, ImageResult>();
        var retriedFailing = 0;
        if (retry.Count > 0)
        {
            var next = 0;
            runner.Run(retry.ConvertAll(i => inputs[i]), result => again[retry[next++]] = result, cancel);
        }
        journal?.Replay((index, result) =>
        {
            if (again.Remove(index, out var retried))
            {
                Retried++;
                if (Count(retried) is { } error)
                {
                    retriedFailing++;
                    errors.WriteLine($"classify: {error.Message}");
                }
                writer.Write(retried);
                features?.Write(retried);
                return;
            }
            Resumed++;
            if (Count(result) is not null)
                ReplayedFailures++;
            writer.Write(result);
            features?.Write(result);
        });
        Done = Resumed + Retried;
        if (ReplayedFailures > 0)
            errors.WriteLine($"classify: {ReplayedFailures} of the {Resumed} results resumed from {journal!.Path} are recorded failures, replayed as they were (--retry_failed reads them again)");
        if (inputs.Count > 1)
        {
            Progress = new ProgressReporter(errors, progressOptions, inputs.Count, Resumed);
            for (var i = 0; i < Retried; i++)
                Progress.Add(failed: i < retriedFailing);
        }
        var todo = journal is { Finished: > 0 } ? inputs.GetRange(journal.Finished, inputs.Count - journal.Finished) : inputs;
        runner.Run(todo, result =>
        {
            if (Count(result) is { } error)
            {
                Progress?.BeforeMessage();
                errors.WriteLine($"classify: {error.Message}");
            }
            journal?.Append(result);
            if (progressOptions.ResultsOnTerminal)
                Progress?.BeforeMessage();
            writer.Write(result);
            features?.Write(result);
            Done++;
            Progress?.Add(result.Error is not null);
        }, cancel);
        writer.Complete();
    }

    /// <summary>Read again every failure the journal holds, not only those that said nothing about the file (--retry_failed).</summary>
    public bool RetryFailed { get; init; }

    /// <summary>Failures from the journal that were read again (and their new results written).</summary>
    public int Retried { get; private set; }

    /// <summary>Failures from the journal replayed as they were.</summary>
    public int ReplayedFailures { get; private set; }

    private ImageError? Count(ImageResult result)
    {
        if (result.Error is not { } error)
            return null;
        Failed++;
        LastError = error;
        return error;
    }

    /// <summary>0 when every image has a result; else the one image's own code, or 7 for a batch.</summary>
    public int ExitCode(int inputs) =>
        Failed == 0 ? Classify.ExitCode.Success : inputs == 1 ? LastError!.Code : Classify.ExitCode.SomeImagesFailed;
}
