using Classify.Inference;

namespace Classify.Pipeline;

/// <summary>What happened to one input: its predictions, or the error that stopped it.</summary>
public sealed record ImageResult(string File, Prediction[]? Predictions, ImageError? Error)
{
    /// <summary>The device that ran this image when it is not the one the run started on (a GPU run that moved to
    /// the CPU: FailSafeBackend); null otherwise. json and jsonl write it as "device".</summary>
    public string? Device { get; init; }

    /// <summary>--features: the image's embedding (null for a failed image, whose row is zeros, and without
    /// --features). Only the journal carries it in json; the results file's writers ignore it.</summary>
    public float[]? Features { get; init; }

    public static ImageResult Ok(string file, Prediction[] predictions) => new(file, predictions, null);

    public static ImageResult Failed(string file, ClassifyException e) =>
        new(file, null, new ImageError(e.ExitCode, ExitCodeNames.Of(e.ExitCode), e.OneLine));
}

/// <summary>Why one image has no result; <see cref="Code"/> is the exit code it would have alone.</summary>
public sealed record ImageError(int Code, string Kind, string Message);
