namespace Classify;

/// <summary>
/// Every exit status of <c>classify</c>. Scripts (sbatch jobs, pipelines) branch on these, so a value
/// never changes meaning once released. The README lists them.
/// </summary>
public static class ExitCode
{
    public const int Success = 0;
    /// <summary>A bug: an exception no user input explains.</summary>
    public const int InternalError = 1;
    /// <summary>Bad command line (unknown flag, bad value, conflicting options).</summary>
    public const int Usage = 2;
    /// <summary>An image path that does not exist, or a directory where a file was expected.</summary>
    public const int ImageNotFound = 3;
    /// <summary>The file exists but is not an image in a supported format (JPEG, PNG, BMP, GIF, WebP).</summary>
    public const int ImageUnsupported = 4;
    /// <summary>The file claims to be an image but cannot be decoded (truncated or corrupt).</summary>
    public const int ImageCorrupt = 5;
    /// <summary>The image is larger than the configured pixel or memory limit.</summary>
    public const int ImageTooLarge = 6;
    /// <summary>Several images were given and at least one failed; the others have results.</summary>
    public const int SomeImagesFailed = 7;
    /// <summary>An input list or directory that cannot be read.</summary>
    public const int InputListUnreadable = 8;
    /// <summary>Decoding one image took longer than --decode_timeout (a decompression bomb, a hostile file).</summary>
    public const int ImageTimeout = 9;
    /// <summary>No model of that name, or a model path that does not exist.</summary>
    public const int ModelNotFound = 10;
    /// <summary>The model file fails its checksum or the runtime cannot load it.</summary>
    public const int ModelCorrupt = 11;
    /// <summary>The model manifest is missing, unreadable or inconsistent.</summary>
    public const int ManifestInvalid = 12;
    /// <summary>The labels file does not match the model's number of outputs.</summary>
    public const int LabelsMismatch = 13;
    /// <summary>The output file cannot be written.</summary>
    public const int OutputFailed = 14;
    /// <summary>The selected backend (e.g. TorchSharp's native libtorch) cannot be loaded.</summary>
    public const int BackendUnavailable = 15;
    /// <summary>A catalogue model could not be downloaded (no network, HTTP error, timeout), or it is not downloaded and
    /// CLASSIFY_OFFLINE=1 forbids it.</summary>
    public const int DownloadFailed = 16;
    /// <summary>The image file exists but could not be read for a reason outside the file: permission denied, too many
    /// open files, an I/O error, a stale NFS handle, no memory. Not final: a resumed run reads it again.</summary>
    public const int ImageUnreadable = 17;
    /// <summary>The system refused a resource the run needs: memory (ulimit -v, an allocation that failed) or open files
    /// (a hard ulimit -n below 64).</summary>
    public const int ResourceExhausted = 18;
    /// <summary>A GPU was required (--require-gpu or --device cuda) but none is usable.</summary>
    public const int GpuUnavailable = 20;
    /// <summary>classify merge: a shard file is missing, empty, truncated, edited, not classify's jsonl or without its
    /// trailer, or the shards given do not form one complete split (each shard once, all of the same inputs).</summary>
    public const int ShardInvalid = 30;
    /// <summary>classify eval: the labelled data cannot be used: a truth file or class folder names a class the model does
    /// not have (or two), a truth file or results file cannot be read or is not in a format eval reads.</summary>
    public const int EvalDataInvalid = 31;
    /// <summary>Stopped by SIGINT or SIGTERM (e.g. Slurm's time limit); no partial output file is left.</summary>
    public const int Cancelled = 130;
}
