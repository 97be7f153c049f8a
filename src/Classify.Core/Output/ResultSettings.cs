namespace Classify.Output;

/// <summary>
/// Everything that can change a run's results, in one record. The resume journal's fingerprint is derived from the
/// record as a whole: the compiler-generated <see cref="object.ToString"/> of a record lists every member, so a setting
/// added here later cannot be left out of it (a hand-kept list once forgot --jpeg_dct_scale, and a resumed run mixed
/// two settings). ResultSettingsTests changes each member in turn and checks the fingerprint changes with it.
/// </summary>
public sealed record ResultSettings
{
    public required string Model { get; init; }
    /// <summary>The sha256 of the model file that runs (the fp16 file with --fp16).</summary>
    public required string ModelFileSha256 { get; init; }
    public required string LabelsSha256 { get; init; }
    public required string Synsets { get; init; }
    public required string ClassifyVersion { get; init; }
    public required string Backend { get; init; }
    /// <summary>The device the run starts on, as the backend checked it ("cpu", "cuda:0").</summary>
    public required string Device { get; init; }
    public required bool Half { get; init; }
    public required bool ChannelsLast { get; init; }
    /// <summary>Whether the cast, normalisation and layout run on the device (the backend's choice).</summary>
    public required bool DevicePreprocessing { get; init; }
    /// <summary>Which library decodes JPEG and PNG: libjpeg-turbo's pixels are not ImageSharp's.</summary>
    public required string JpegDecoder { get; init; }
    public required string PngDecoder { get; init; }
    /// <summary>Whether large JPEGs are scaled in libjpeg-turbo's DCT (the default; false with --full_decode): moves
    /// scores by about 0.01 and flips the top-1 where the top two nearly tie (README, Benchmarks).</summary>
    public required bool JpegDctScale { get; init; }
    /// <summary>The limits that turn an image into an error: --decode_timeout, --max_file_size, the pixel limit.</summary>
    public required double DecodeTimeoutSeconds { get; init; }
    public required long MaxFileBytes { get; init; }
    public required long MaxPixels { get; init; }
    public required int TopK { get; init; }
    /// <summary>The shard of the inputs this run classifies ("0/1" for all of them).</summary>
    public required string Shard { get; init; }
    /// <summary>--features: the model output written as the embeddings ("" without --features), and their dtype.</summary>
    public string Features { get; init; } = "";
    public string FeaturesDtype { get; init; } = "";

    /// <summary>What every result record says about how it was made.</summary>
    public Provenance Provenance => new(Model, ModelFileSha256, ClassifyVersion);

    /// <summary>What the writers say about the run (json's header, a shard's trailer).</summary>
    public RunInfo RunInfo(ShardSplit? split) => new(Provenance, Backend, Device, TopK, split);

    /// <summary>The journal's fingerprint: this record and the digest of the run's input list.</summary>
    public string Fingerprint(string inputsSha256) => ResultJournal.Fingerprint([ToString()], inputsSha256);
}
