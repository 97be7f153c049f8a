namespace Classify.Output;

/// <summary>How the journal's file is opened: never through a link, locked against a second run, owned by this user.</summary>
public sealed partial class ResultJournal
{
    /// <summary>
    /// Opens or creates the journal without following a symbolic link: on a shared scratch folder another user could
    /// plant FILE.partial as a link to a file of yours, which the journal would then truncate and overwrite. A new
    /// journal gets the output's permissions (0666 less the umask). Anything but a regular file is refused.
    /// </summary>
    private static FileStream OpenLocked(string path, string outputPath, Action<string> note)
    {
        for (var attempt = 0; ; attempt++)
        {
            var stream = OpenWithoutFollowing(path);
            if (!OperatingSystem.IsLinux())
                return stream;
            try
            {
                var fd = (int)stream.SafeFileHandle.DangerousGetHandle();
                if (!JournalLock.Take(fd, path, outputPath))
                {
                    note($"{path}: warning: this file system cannot lock the resume journal; two runs on the same --output would not be noticed");
                    return stream;
                }
                // The run that held it may have finished and removed it between the open and the lock.
                if (attempt < 5 && FileStatus.OfPath(path)?.Inode != FileStatus.OfDescriptor(fd)?.Inode)
                {
                    stream.Dispose();
                    continue;
                }
                return stream;
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }
    }

    private static FileStream OpenWithoutFollowing(string path)
    {
        if (!OperatingSystem.IsLinux())
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        const int flags = NativeFile.ReadWrite | NativeFile.CloseOnExec;
        // Created here, it is this run's own whoever the file system says owns it (NFS with root_squash or all_squash
        // gives new files to another uid).
        var created = true;
        var fd = NativeFile.Open(path, flags | NativeFile.NoFollow | NativeFile.Create | NativeFile.Exclusive, 0x1B6); // 0666
        var errno = fd < 0 ? System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : 0;
        if (errno == NativeFile.EEXIST)
        {
            created = false;
            fd = NativeFile.Open(path, flags | NativeFile.NoFollow);
            errno = fd < 0 ? System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : 0;
        }
        if (fd < 0)
        {
            throw errno == NativeFile.ELOOP
                ? new ClassifyException(ExitCode.OutputFailed, path,
                    "is a symbolic link: classify does not write its resume journal through one (it could overwrite another file); remove it, or choose another --output")
                : new IOException(System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno));
        }
        var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
        var status = FileStatus.OfDescriptor(fd);
        if (status is not { Type: FileStatus.Regular })
        {
            handle.Dispose();
            throw new ClassifyException(ExitCode.OutputFailed, path, "is not a regular file: classify keeps its resume journal only in one; remove it, or choose another --output");
        }
        // Another user's file in a shared folder (one they could write, or leave writable) is not this run's journal:
        // its records would be replayed as results.
        if (!created && status.Value.Owner != FileStatus.EffectiveUser())
        {
            handle.Dispose();
            throw new ClassifyException(ExitCode.OutputFailed, path,
                $"belongs to another user (uid {status.Value.Owner}): classify resumes only from a journal it wrote itself; remove it, or choose another --output");
        }
        return new FileStream(handle, FileAccess.ReadWrite);
    }
}
