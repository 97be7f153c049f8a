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
    public static bool HoldsData() => FileStatus.OfDescriptor(0) switch
    {
        { Type: FileStatus.Regular } st => st.Size > 0,
        { Type: FileStatus.Fifo or FileStatus.Socket } => Ioctl(0, FIONREAD, out var waiting) == 0 && waiting > 0,
        _ => false,
    };

    private const nuint FIONREAD = 0x541B;

    [LibraryImport("libc", EntryPoint = "ioctl")]
    private static partial int Ioctl(int fd, nuint request, out int value);
}
