namespace Classify.Output;

/// <summary>
/// A file that appears under its name only when complete: everything goes to a temporary file in the same
/// folder, which <see cref="Commit"/> renames over the target. Disposing without committing deletes it, so a
/// crash, a cancelled job or a full disk never leaves a half-written result where a finished one belongs.
/// </summary>
/// <remarks>An existing device, FIFO or socket (--output /dev/null, a named pipe, bash's &gt;(gzip &gt; x)) is written
/// directly: renaming a temporary file over it would replace /dev/null with a regular file for every process on the
/// machine (a test's --output /dev/null once did).</remarks>
public sealed class AtomicFile : IDisposable
{
    private readonly FileStream _stream;
    private bool _committed;

    public AtomicFile(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        if (IsSpecialFile(Path))
        {
            TempPath = null;
            try
            {
                _stream = new FileStream(Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1 << 16);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ClassifyException(ExitCode.OutputFailed, path, $"cannot write: {e.Message}");
            }
            return;
        }
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(dir))
            throw new ClassifyException(ExitCode.OutputFailed, path, "its folder does not exist");
        if (Directory.Exists(Path))
            throw new ClassifyException(ExitCode.OutputFailed, path, "is a directory");
        var name = System.IO.Path.GetFileName(Path);
        RemoveStale(dir, name);
        TempPath = System.IO.Path.Combine(dir, $".{name}.{Host}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            _stream = new FileStream(TempPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // .NET's message names the hidden temporary file, which the user never asked for: the reason alone.
            var why = OutputFaults.Reason(e) + (e is FileNotFoundException or DirectoryNotFoundException ? " (it takes no new files)" : "");
            throw new ClassifyException(ExitCode.OutputFailed, path, $"cannot create a file in {dir}: {why}");
        }
    }

    // The host is in the name because the folder may be shared by many nodes (Lustre, NFS): a process id says
    // whether a run is still alive only on the host that started it.
    private static readonly string Host = Environment.MachineName.Replace('/', '_');

    /// <summary>
    /// Deletes the temporary files of earlier runs on this host that were killed before they could (SIGKILL, the
    /// OOM killer, a node reboot): .NAME.HOST.PID.GUID.tmp whose process is gone, and wave-1's .NAME.PID.GUID.tmp
    /// likewise. A live run's file, and files of other hosts, are left alone.
    /// </summary>
    private static void RemoveStale(string dir, string name)
    {
        if (!OperatingSystem.IsLinux())
            return;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(dir, $".{name}.*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        var prefix = $".{name}.";
        foreach (var file in candidates)
        {
            var middle = System.IO.Path.GetFileName(file)[prefix.Length..^".tmp".Length]; // [HOST.]PID.GUID
            var parts = middle.Split('.');
            if (parts.Length < 2 || parts[^1].Length != 32 || !int.TryParse(parts[^2], out var pid))
                continue;
            var host = string.Join('.', parts[..^2]);
            if ((host.Length == 0 || host == Host) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                try { File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }

    public string Path { get; }

    /// <summary>The temporary file, or null when <see cref="Path"/> is written directly (a device or FIFO).</summary>
    public string? TempPath { get; }

    /// <summary>The file's stream: a failed write (a full disk) is exit 14 naming <see cref="Path"/>.</summary>
    public Stream Stream => _guarded ??= OutputFaults.Guard(_stream, Path);

    private Stream? _guarded;

    /// <summary>Whether <paramref name="path"/> exists and is a character or block device, a FIFO or a socket
    /// (symbolic links followed): such an output cannot be replaced, nor resumed.</summary>
    public static bool IsSpecialFile(string path) =>
        FileStatus.OfPath(path) is { Type: FileStatus.CharDevice or FileStatus.BlockDevice or FileStatus.Fifo or FileStatus.Socket };

    public void Commit()
    {
        try
        {
            if (TempPath is null)
            {
                _stream.Flush();
                _stream.Dispose();
                _committed = true;
                return;
            }
            _stream.Flush(flushToDisk: true);
            _stream.Dispose();
            File.Move(TempPath, Path, overwrite: true);
            _committed = true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OutputFaults.Of(e, Path);
        }
    }

    public void Dispose()
    {
        // An uncommitted file's buffered bytes may not fit (the full disk that stopped the run): they are dropped, and
        // the temporary file goes with them.
        try { _stream.Dispose(); } catch (IOException) when (!_committed) { }
        if (!_committed && TempPath is not null)
        {
            try { File.Delete(TempPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
