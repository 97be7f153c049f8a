using System.Globalization;
using System.Runtime.InteropServices;

namespace Classify.Output;

/// <summary>
/// The resume journal is held with flock(2) for the whole run, so that a second run on the same --output (a job
/// submitted twice, two array tasks given one file by hand) refuses at once instead of resuming from, truncating or
/// deleting a live run's journal. The kernel drops the lock when the holder dies however it dies (SIGKILL, OOM), so a
/// rerun after a crash is never locked out. On NFS Linux carries flock over as a byte-range lock that the server
/// keeps; where the file system has no locks at all (ENOLCK: NFS mounted with nolock from several nodes, some FUSE
/// file systems) the run goes on with a warning (README, "Two runs on one output").
/// </summary>
internal static partial class JournalLock
{
    private const int LOCK_EX = 2, LOCK_NB = 4, EWOULDBLOCK = 11, ENOLCK = 37, ENOSYS = 38, EOPNOTSUPP = 95, EINVAL = 22;

    /// <summary>Takes the lock on <paramref name="fd"/>; false where the file system cannot lock (the caller warns).</summary>
    /// <exception cref="ClassifyException">Another process holds it: exit 14 naming that process where it can be seen.</exception>
    public static bool Take(int fd, string journal, string output)
    {
        while (flock(fd, LOCK_EX | LOCK_NB) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == 4) continue; // EINTR
            if (errno is ENOLCK or ENOSYS or EOPNOTSUPP or EINVAL)
                return false;
            if (errno != EWOULDBLOCK)
                throw new IOException(Marshal.GetPInvokeErrorMessage(errno), errno);
            var holder = Holder(fd) is { } pid ? $" (process {pid}{Command(pid)})" : " (on this or another node)";
            throw new ClassifyException(ExitCode.OutputFailed, output,
                $"another classify run{holder} is writing this output and holds its resume journal {journal}; wait for it to end, or choose another --output");
        }
        return true;
    }

    /// <summary>The process that holds a flock on the file of <paramref name="fd"/>, from /proc/locks (this node only).</summary>
    private static int? Holder(int fd)
    {
        if (FileStatus.OfDescriptor(fd) is not { } status)
            return null;
        try
        {
            // "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF"
            foreach (var line in File.ReadLines("/proc/locks"))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 6 && f[1] == "FLOCK" && f[5].Split(':') is [_, _, var inode]
                    && ulong.TryParse(inode, CultureInfo.InvariantCulture, out var ino) && ino == status.Inode
                    && int.TryParse(f[4], CultureInfo.InvariantCulture, out var pid) && pid != Environment.ProcessId)
                    return pid;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    private static string Command(int pid)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
            return args.Length == 0 ? "" : $", {Path.GetFileName(args[0])}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);
}
