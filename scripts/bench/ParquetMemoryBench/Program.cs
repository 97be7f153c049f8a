using System.Diagnostics;
using System.Globalization;
using Classify;
using Classify.Inference;
using Classify.Output;
using Classify.Pipeline;

// Writes N synthetic results (ImageNet-like names, top 5, one in 100 failed) through the parquet writer onto a file, as
// classify does, and prints the process's peak resident memory before and after: the writer holds one row group of
// rows at a time, so the peak does not grow with N.
//   dotnet run --project scripts/bench/ParquetMemoryBench -c Release -- [ROWS [ROW_GROUP_SIZE]]
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var groupSize = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : ParquetResultWriter.DefaultRowGroupSize;
var path = Path.Combine(Path.GetTempPath(), $"parquet-memory-{Environment.ProcessId}.parquet");
var made = new Provenance("mobilenet_edgetpu_224_1.0_float", new string('0', 64), "1.0.0+bench");
var labels = Enumerable.Range(0, 1000).Select(c => $"ImageNet class {c}, a label of about this length").ToArray();
var synsets = Enumerable.Range(0, 1000).Select(c => $"n{c:D8}").ToArray();
var before = PeakRssMb();
var clock = Stopwatch.StartNew();
ParquetResultWriter writer;
using (var file = new AtomicFile(path))
{
    using (var text = ResultWriter.OpenText(file.Stream))
    {
        writer = new ParquetResultWriter(text, new RunInfo(made, "onnxruntime", "cpu", 5), groupSize);
        for (var i = 0; i < rows; i++)
        {
            var c = i % 1000 * 7919 % 1000;
            var name = $"/scratch/imagenet/train/{synsets[c]}/{synsets[c]}_{i}.JPEG";
            writer.Write(i % 100 == 99
                ? ImageResult.Failed(name, new ClassifyException(ExitCode.ImageCorrupt, name, "not a valid JPEG (premature end of data)"))
                : ImageResult.Ok(name, [.. Enumerable.Range(0, 5).Select(k => new Prediction(labels[(c + k) % 1000], (c + k) % 1000, 0.5f / (k + 1), synsets[(c + k) % 1000]))]));
        }
        writer.Complete();
    }
    file.Commit();
}
var seconds = clock.Elapsed.TotalSeconds;
var bytes = new FileInfo(path).Length;
File.Delete(path);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"parquet writer: {rows} rows in {writer.RowGroups} row groups of {writer.RowGroupSize}, at most {writer.MostBuffered} rows held; {seconds:F2} s ({rows / seconds:F0} rows/s), {bytes} bytes; peak RSS {before:F1} MB before, {PeakRssMb():F1} MB after; managed heap allocated in all {GC.GetTotalAllocatedBytes() / 1048576.0:F0} MB"));

// VmHWM: the most resident memory the process has had.
static double PeakRssMb() =>
    File.ReadLines("/proc/self/status").Where(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
        .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024).First();
