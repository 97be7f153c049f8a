namespace Classify.Images;

public sealed record ImageLoaderOptions
{
    public static readonly ImageLoaderOptions Default = new();

    /// <summary>PIL's decompression-bomb limit: larger images are refused before decoding.</summary>
    public long MaxPixels { get; init; } = 178_956_970;

    /// <summary>Files larger than this are refused without being read (--max_file_size).</summary>
    public long MaxFileBytes { get; init; } = 256L << 20;

    /// <summary>One image's decode is stopped after this long (--decode_timeout).</summary>
    public TimeSpan DecodeTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Memory all decode workers together may use for pixels (README: Memory). With the model and the
    /// runtime this keeps a run of the default model under 2 GB whatever the images and the number of cores.</summary>
    public long DecodeBudgetBytes { get; init; } = 1280L << 20;

    /// <summary>Memory for image files read and not yet decoded, shared by all workers (one file over it is read
    /// alone). A budget of its own, taken before the decode's: a worker that holds file bytes and waits for decode
    /// memory waits only on decodes, which always finish.</summary>
    public long FileBudgetBytes { get; init; } = 128L << 20;

    /// <summary>Upper bound of one ImageSharp allocation, so a hostile header cannot exhaust memory.</summary>
    public int AllocationLimitMegabytes { get; init; } = 1024;

    /// <summary>The size an upright image of the given size must keep for what comes next (the model's resize), or
    /// null for the full size (this record's default, and classify decode's without --model). With it (classify's
    /// default since issue 30; --full_decode turns it off), a JPEG decoded by
    /// libjpeg-turbo is scaled in the DCT domain to the smallest size that is still twice that; every image of a run
    /// gets the same treatment, so results do not depend on batching or sharding.</summary>
    public Func<int, int, (int Width, int Height)>? DecodeAtLeast { get; init; }

    /// <summary>The tar archives whose members are inputs (ARCHIVE/MEMBER names); null: files only.</summary>
    public Inputs.TarShards? Archives { get; init; }
}
