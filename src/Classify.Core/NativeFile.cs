using System.Runtime.InteropServices;

namespace Classify;

/// <summary>open(2), for what File and FileStream cannot ask for: O_NONBLOCK (a FIFO must not block the open of an
/// image) and O_NOFOLLOW (a planted symbolic link must not be written through). The flags are Linux's.</summary>
internal static partial class NativeFile
{
    public const int ReadOnly = 0, ReadWrite = 2, Create = 0x40, NonBlock = 0x800, CloseOnExec = 0x80000;

    /// <summary>O_NOFOLLOW, whose value differs between architectures.</summary>
    public static readonly int NoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    public const int ENOENT = 2, ENOTDIR = 20, ELOOP = 40;

    /// <summary>A descriptor, or -1 with errno in Marshal.GetLastPInvokeError. <paramref name="mode"/> applies to a file
    /// <see cref="Create"/> makes (less the umask).</summary>
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode = 0);
}
