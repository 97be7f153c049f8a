using System.Text;
using System.Text.Json;
using Classify.Pipeline;

namespace Classify.Output;

/// <summary>
/// The resume journal of a run with <c>--output FILE</c>: <c>FILE.partial</c> holds one jsonl record per
/// finished image, in input order, flushed batch by batch, after a header naming the run (model, settings,
/// inputs) by a fingerprint. When a run is killed (Slurm's time limit, preemption, a crashed node) and started
/// again with the same settings, the journal's images are replayed instead of classified again. It is deleted
/// once FILE is complete.
/// </summary>
public sealed partial class ResultJournal : IDisposable
{
    public const string Suffix = ".partial";
    private const int Version = 1;

    private readonly FileStream _stream;
    private readonly MemoryStream _line = new();
    private readonly int _flushEvery;
    private int _unflushed;

    private ResultJournal(string path, FileStream stream, int finished, List<(int, int)> failures, int flushEvery)
    {
        Path = path;
        _stream = stream;
        Finished = finished;
        Failures = failures;
        _flushEvery = Math.Max(1, flushEvery);
    }

    public string Path { get; }

    /// <summary>How many of the run's first inputs already had a result in the journal when it was opened.</summary>
    public int Finished { get; }

    /// <summary>The <see cref="Finished"/> records that are failures: their input's index and exit code.</summary>
    public IReadOnlyList<(int Index, int Code)> Failures { get; }

    /// <summary>How many results the journal holds now: <see cref="Finished"/> and those appended since.</summary>
    public int Count => Finished + _appended;

    private int _appended;

    /// <summary>A digest of everything that decides a run's results; journals of other runs are not resumed.</summary>
    public static string Fingerprint(IEnumerable<string> settings, IEnumerable<string> inputs) =>
        Fingerprint(settings, NameDigest.Of(inputs));

    /// <summary>The same from the inputs' <see cref="NameDigest"/>, for a run that has it already (a shard's split).</summary>
    public static string Fingerprint(IEnumerable<string> settings, string inputsSha256) =>
        NameDigest.Of(settings.Append("").Append(inputsSha256));

    /// <summary>
    /// Opens the journal of <paramref name="outputPath"/>, keeping the records of an earlier run with the same
    /// <paramref name="fingerprint"/> that match <paramref name="inputs"/> from the start, up to the last
    /// whole line and, when <paramref name="check"/> is given, to the last record it accepts (see <see cref="RecordCheck"/>).
    /// <paramref name="note"/> hears what was resumed or discarded.
    /// </summary>
    public static ResultJournal Open(string outputPath, string fingerprint, IReadOnlyList<string> inputs, int flushEvery, Action<string> note,
        RecordCheck? check = null)
    {
        var path = System.IO.Path.GetFullPath(outputPath) + Suffix;
        try
        {
            var stream = OpenLocked(path, outputPath, note);
            try
            {
                var failures = new List<(int, int)>();
                var (finished, keep) = Recover(stream, fingerprint, inputs, path, note, check, failures);
                failures.RemoveAll(f => f.Item1 >= finished);
                if (keep == 0)
                {
                    stream.SetLength(0);
                    stream.Position = 0;
                    using (var header = new Utf8JsonWriter(stream))
                    {
                        header.WriteStartObject();
                        header.WriteNumber("classify_journal", Version);
                        header.WriteString("fingerprint", fingerprint);
                        header.WriteEndObject();
                    }
                    stream.WriteByte((byte)'\n');
                }
                else
                {
                    // Drops a torn last record (the process died mid-write) so appends start on a fresh line.
                    stream.SetLength(keep);
                    stream.Position = keep;
                }
                stream.Flush();
                if (finished > 0)
                    note($"{outputPath}: resuming: {finished} of {inputs.Count} images already done (from {path})");
                return new ResultJournal(path, stream, finished, failures, flushEvery);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.OutputFailed, path, $"cannot write the resume journal: {e.Message}");
        }
    }

    /// <returns>The number of reusable records and the byte length that holds them (0: start afresh).</returns>
    private static (int Finished, long Keep) Recover(FileStream stream, string fingerprint, IReadOnlyList<string> inputs, string path, Action<string> note,
        RecordCheck? check, List<(int, int)> failures)
    {
        if (stream.Length == 0)
            return (0, 0);
        var lines = new LineScanner(stream);
        if (!TryRead(lines, out var header, out var terminated) || !terminated || !HeaderMatches(header.Span, fingerprint))
        {
            note($"{path}: left by a run with another model, settings, inputs or classify build; starting over");
            return (0, 0);
        }
        var keep = lines.Offset;
        var finished = 0;
        while (finished < inputs.Count && TryRead(lines, out var line, out terminated) && terminated)
        {
            // Each record must be the result of the input at its place in the list, and one this run could produce.
            var result = ResultJson.TryParse(line.Span);
            var problem = result is null ? "is not a classify result"
                : result.File != inputs[finished] ? $"is for {ClassifyException.Printable(result.File)}, not input {finished + 1} ({ClassifyException.Printable(inputs[finished])})"
                : check?.Problem(result);
            if (problem is not null)
            {
                note($"{path}: record {finished + 1} {(problem.StartsWith("is ", StringComparison.Ordinal) ? problem : "does not fit this run: " + problem)}; resuming only the {finished} before it");
                break;
            }
            if (result!.Error is { } error)
                failures.Add((finished, error.Code));
            finished++;
            keep = lines.Offset;
        }
        stream.Position = 0;
        return (finished, keep);
    }

    /// <summary>The next line, or false at the end or at a line too long for a record (what follows is not kept).</summary>
    private static bool TryRead(LineScanner lines, out ReadOnlyMemory<byte> line, out bool terminated)
    {
        try
        {
            return lines.TryRead(out line, out terminated);
        }
        catch (InvalidDataException)
        {
            (line, terminated) = (default, false);
            return false;
        }
    }

    private static bool HeaderMatches(ReadOnlySpan<byte> line, string fingerprint)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            using var doc = JsonDocument.ParseValue(ref reader);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("classify_journal", out var version) && version.ValueKind == JsonValueKind.Number
                && version.GetInt32() == Version
                && doc.RootElement.TryGetProperty("fingerprint", out var print) && print.ValueKind == JsonValueKind.String
                && print.GetString() == fingerprint;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Hands the journal's <see cref="Finished"/> results to <paramref name="onResult"/>, in order, with their index.</summary>
    public void Replay(Action<int, ImageResult> onResult)
    {
        if (Finished == 0)
            return;
        // Opened without .NET's own flock (FileStream by path takes a shared one, which the run's exclusive lock refuses).
        using var reader = NativeFile.OpenRead(Path);
        var lines = new LineScanner(reader);
        lines.TryRead(out _, out _);
        for (var i = 0; i < Finished && lines.TryRead(out var line, out _); i++)
            onResult(i, ResultJson.TryParse(line.Span) ?? throw new InvalidOperationException($"{Path}: record {i + 1} changed while resuming"));
    }

    /// <summary>--features with float16: embeddings are kept as float16 (see <see cref="ResultJson.Write"/>).</summary>
    public bool HalfFeatures { get; set; }

    public void Append(ImageResult result)
    {
        _line.SetLength(0);
        using (var json = new Utf8JsonWriter(_line, ResultJson.Options))
            ResultJson.Write(json, result, exactScores: true, halfFeatures: HalfFeatures);
        _line.WriteByte((byte)'\n');
        try { _stream.Write(_line.GetBuffer(), 0, (int)_line.Length); }
        catch (IOException e) { throw OutputFaults.Of(e, Path); }
        _appended++;
        // Whole batches reach the file, so a killed run loses at most the batch in flight.
        if (++_unflushed >= _flushEvery)
            Flush();
    }

    public void Flush()
    {
        try { _stream.Flush(); }
        catch (IOException e) { throw OutputFaults.Of(e, Path); }
        _unflushed = 0;
    }

    /// <summary><see cref="Flush"/>, for a run that is failing anyway: false where the journal could not keep its records
    /// either (the same full disk).</summary>
    public bool TryFlush()
    {
        try
        {
            _stream.Flush();
            return true;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>The run's output is complete: the journal is no longer needed.</summary>
    public void Delete()
    {
        // Removed while still locked: a second run that opened it meanwhile sees, once it has the lock, that the name
        // no longer leads to the file it locked, and starts over (OpenLocked).
        try { File.Delete(Path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        _stream.Dispose();
    }

    public void Dispose()
    {
        try { _stream.Flush(); } catch (IOException) { } catch (ObjectDisposedException) { }
        _stream.Dispose();
    }
}
