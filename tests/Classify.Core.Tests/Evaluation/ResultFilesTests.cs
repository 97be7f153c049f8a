using Classify.Evaluation;
using Classify.Inference;
using Classify.Output;
using Classify.Pipeline;

namespace Classify.Tests.Evaluation;

/// <summary>eval reads what classify writes, in every format, whether the file's name says which or not.</summary>
public sealed class ResultFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("resultfiles-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly ImageResult[] Results =
    [
        ImageResult.Ok("a/cat.png", [new Prediction("Egyptian cat", 286, 0.75903f, "n02124075"), new Prediction("tabby, tabby cat", 282, 0.1f, "n02123045")]),
        new ImageResult("a/broken.jpg", null, new ImageError(ExitCode.ImageCorrupt, "corrupt", "a/broken.jpg: not a JPEG")),
        ImageResult.Ok("b/crane.jpg", [new Prediction("crane", 135, 0.5f, "n02012849"), new Prediction("Egyptian cat", 286, 0.01f, "n02124075")]),
    ];

    [Theory]
    [InlineData(OutputFormat.Jsonl, "results.jsonl")]
    [InlineData(OutputFormat.Jsonl, "results.out")]
    [InlineData(OutputFormat.Json, "results.json")]
    [InlineData(OutputFormat.Json, "results")]
    [InlineData(OutputFormat.Csv, "results.csv")]
    [InlineData(OutputFormat.Csv, "results.dat")]
    [InlineData(OutputFormat.Text, "results.txt")]
    [InlineData(OutputFormat.Text, "results.log")]
    [InlineData(OutputFormat.Parquet, "results.parquet")]
    [InlineData(OutputFormat.Parquet, "results.bin")]
    public void Every_format_reads_back_by_extension_or_by_content(OutputFormat format, string name)
    {
        var path = Path.Combine(_dir, name);
        using (var stream = File.Create(path))
        using (var text = ResultWriter.OpenText(stream))
        {
            var writer = ResultWriter.Create(format, text, new RunInfo(new Provenance("m", "abc", "1.0"), "onnx", "cpu", 2), singleInput: false);
            foreach (var r in Results) writer.Write(r);
            writer.Complete();
        }

        var read = ResultFiles.Read(path).Results;

        Assert.Equal(Results.Select(r => r.File), read.Select(r => r.File));
        Assert.Equal(Results.Select(r => r.Predictions?[0].Label), read.Select(r => r.Predictions?[0].Label));
        Assert.Equal(Results.Select(r => r.Error?.Message), read.Select(r => r.Error?.Message));
        // The text format records no error code: its failures read back as failed images (code 7), the others as written.
        Assert.Equal(Results.Select(r => r.Error is null ? (int?)null : format == OutputFormat.Text ? ExitCode.SomeImagesFailed : r.Error.Code),
            read.Select(r => r.Error?.Code));
    }
}
