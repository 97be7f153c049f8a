using System.Runtime.InteropServices;

namespace Classify;

/// <summary>
/// statx(2): a file's type and size, from an open descriptor or a path (symbolic links followed). struct statx has
/// the same layout on every architecture, unlike struct stat. glibc 2.28+ (2018); the kernel call since Linux 4.11.
/// </summary>
internal static partial class FileStatus
{
    public const ushort TypeMask = 0xF000, Socket = 0xC000, Regular = 0x8000, BlockDevice = 0x6000, Directory = 0x4000,
        CharDevice = 0x2000, Fifo = 0x1000;

    /// <summary><see cref="Type"/> is one of the constants above.</summary>
    public readonly record struct Info(ushort Type, ulong Size, uint Owner, ulong Inode, ulong Device);

    /// <summary>The status of an open descriptor, or null (errno in Marshal.GetLastPInvokeError).</summary>
    public static Info? OfDescriptor(int fd) => Call(fd, [0], AT_EMPTY_PATH);

    /// <summary>The status of the file a path names, or null (errno in Marshal.GetLastPInvokeError).</summary>
    public static Info? OfPath(string path) => Call(AT_FDCWD, Inputs.FileNames.ToCString(path), 0);

    /// <summary>The type of what <paramref name="path"/> names (links followed), or null when nothing is there.</summary>
    public static ushort? TypeOf(string path) => OfPath(path)?.Type;

    private static Info? Call(int dirfd, byte[] path, int flags)
    {
        var st = new StatX();
        return StatXCall(dirfd, path, flags, STATX_TYPE | STATX_SIZE | STATX_UID | STATX_INO, ref st) == 0 ? new Info((ushort)(st.Mode & TypeMask), st.Size, st.Uid, st.Inode, ((ulong)st.DevMajor << 32) | st.DevMinor) : null;
    }

    private const int AT_EMPTY_PATH = 0x1000, AT_FDCWD = -100;
    private const uint STATX_TYPE = 0x1, STATX_UID = 0x8, STATX_INO = 0x100, STATX_SIZE = 0x200;

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatX
    {
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    /// <summary>The effective user id of this process.</summary>
    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint EffectiveUser();

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static partial int StatXCall(int dirfd, byte[] path, int flags, uint mask, ref StatX buffer);
}
