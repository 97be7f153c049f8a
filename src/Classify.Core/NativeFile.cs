using System.Runtime.InteropServices;

namespace Classify;

/// <summary>open(2), for what File and FileStream cannot ask for: O_NONBLOCK (a FIFO must not block the open of an
/// image) and O_NOFOLLOW (a planted symbolic link must not be written through). The flags are Linux's.</summary>
internal static partial class NativeFile
{
    public const int ReadOnly = 0, ReadWrite = 2, Create = 0x40, Exclusive = 0x80, NonBlock = 0x800, CloseOnExec = 0x80000;

    /// <summary>O_NOFOLLOW, whose value differs between architectures.</summary>
    public static readonly int NoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    public const int ENOENT = 2, EEXIST = 17, ENOTDIR = 20, ELOOP = 40;

    /// <summary>A descriptor, or -1 with errno in Marshal.GetLastPInvokeError. <paramref name="mode"/> applies to a file
    /// <see cref="Create"/> makes (less the umask). The path's bytes are <see cref="Inputs.FileNames.ToBytes"/>: a name
    /// that is not UTF-8 opens the file it came from.</summary>
    public static int Open(string path, int flags, int mode = 0) => OpenBytes(Inputs.FileNames.ToCString(path), flags, mode);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static partial int OpenBytes(byte[] path, int flags, int mode);

    /// <summary>A file opened for reading by its name's bytes (a name that is not UTF-8 too), as a stream.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="IOException">It cannot be opened.</exception>
    public static FileStream OpenRead(string path)
    {
        var fd = Open(path, ReadOnly | CloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            var message = Marshal.GetPInvokeErrorMessage(errno);
            throw errno is ENOENT or ENOTDIR ? new FileNotFoundException(message, path) : new IOException(message);
        }
        return new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, 1 << 16);
    }
}
