using System.Runtime.InteropServices;

namespace Classify.Inputs;

/// <summary>
/// Whether standard input already holds data: `ls *.png | classify` or `classify &lt; todo.txt` without '-' used to
/// classify the bundled cat and exit 0. Reading standard input by default instead (as ripgrep does) would make
/// `ssh node classify` or an mpirun rank wait for input that never comes, so only data already there counts: bytes
/// waiting in a pipe or socket, or a non-empty regular file. A terminal, /dev/null and an idle pipe do not.
/// </summary>
public static partial class StandardInput
{
    public static bool HoldsData()
    {
        var st = new StatX();
        if (StatXCall(0, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE, ref st) != 0)
            return false;
        switch (st.Mode & S_IFMT)
        {
            case S_IFREG:
                return st.Size > 0;
            case S_IFIFO or S_IFSOCK:
                return Ioctl(0, FIONREAD, out var waiting) == 0 && waiting > 0;
            default:
                return false;
        }
    }

    private const int AT_EMPTY_PATH = 0x1000;
    private const uint STATX_TYPE = 0x1, STATX_SIZE = 0x200;
    private const ushort S_IFMT = 0xF000, S_IFSOCK = 0xC000, S_IFREG = 0x8000, S_IFIFO = 0x1000;
    private const nuint FIONREAD = 0x541B;

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatX
    {
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(40)] public ulong Size;
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatXCall(int dirfd, string path, int flags, uint mask, ref StatX buffer);

    [LibraryImport("libc", EntryPoint = "ioctl")]
    private static partial int Ioctl(int fd, nuint request, out int value);
}
