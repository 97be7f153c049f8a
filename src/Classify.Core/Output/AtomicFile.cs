namespace Classify.Output;

/// <summary>
/// A file that appears under its name only when complete: everything goes to a temporary file in the same
/// folder, which <see cref="Commit"/> renames over the target. Disposing without committing deletes it, so a
/// crash, a cancelled job or a full disk never leaves a half-written result where a finished one belongs.
/// </summary>
public sealed class AtomicFile : IDisposable
{
    private readonly FileStream _stream;
    private bool _committed;

    public AtomicFile(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(dir))
            throw new ClassifyException(ExitCode.OutputFailed, path, "its folder does not exist");
        if (Directory.Exists(Path))
            throw new ClassifyException(ExitCode.OutputFailed, path, "is a directory");
        TempPath = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(Path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            _stream = new FileStream(TempPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.OutputFailed, path, $"cannot write: {e.Message}");
        }
    }

    public string Path { get; }
    public string TempPath { get; }
    public Stream Stream => _stream;

    public void Commit()
    {
        try
        {
            _stream.Flush(flushToDisk: true);
            _stream.Dispose();
            File.Move(TempPath, Path, overwrite: true);
            _committed = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.OutputFailed, Path, $"cannot write: {e.Message}");
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        if (!_committed)
        {
            try { File.Delete(TempPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
