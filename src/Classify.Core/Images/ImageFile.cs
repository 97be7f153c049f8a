using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Classify.Images;

/// <summary>
/// Reads an image file whole, bounded: the file is opened without blocking and its type and size are read from
/// the open descriptor (one open and one fstat, what File.ReadAllBytes costs too), so a FIFO, a socket, a device
/// or a directory is refused before a byte is read and a file over the size limit is never read at all.
/// File.ReadAllBytes would block for ever in open() on a FIFO and read /dev/zero until memory runs out.
/// </summary>
public static class ImageFile
{
    public static byte[] Read(string path, long maxBytes, Action<long>? reserve = null)
    {
        if (!OperatingSystem.IsLinux())
            return ReadPortable(path, maxBytes, reserve);
        var fd = NativeFile.Open(path, NativeFile.ReadOnly | NativeFile.NonBlock | NativeFile.CloseOnExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            // A socket cannot be opened at all (ENXIO): say what it is rather than "No such device or address".
            if (errno is not (NativeFile.ENOENT or NativeFile.ENOTDIR) && FileStatus.OfPath(path) is { } byPath && KindOf(byPath.Type) is { } odd)
                throw new ClassifyException(ExitCode.ImageUnsupported, path, $"not an image file: {odd}");
            throw OpenError(path, errno);
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (FileStatus.OfDescriptor(fd) is not { } st)
            throw OpenError(path, Marshal.GetLastPInvokeError());
        var kind = KindOf(st.Type);
        if (kind == "a directory")
            throw new ClassifyException(ExitCode.ImageNotFound, path, "is a directory, not an image file (use --image_dir for folders)");
        if (kind is not null)
            throw new ClassifyException(ExitCode.ImageUnsupported, path, $"not an image file: {kind}");
        return ReadBounded(handle, path, (long)st.Size, maxBytes, reserve);
    }

    private static string? KindOf(ushort type) => type switch
    {
        FileStatus.Regular => null,
        FileStatus.Directory => "a directory",
        FileStatus.Fifo => "a FIFO (named pipe)",
        FileStatus.Socket => "a socket",
        FileStatus.CharDevice => "a character device",
        FileStatus.BlockDevice => "a block device",
        _ => "not a regular file",
    };

    private static byte[] ReadBounded(SafeFileHandle handle, string path, long size, long maxBytes, Action<long>? reserve)
    {
        if (size > maxBytes)
            throw TooLarge(path, size, maxBytes);
        // One .NET array holds at most about 2 GiB, whatever --max_file_size allows.
        if (size > Array.MaxLength)
            throw new ClassifyException(ExitCode.ImageTooLarge, path,
                $"file is {Mib(size)} MiB, over the {Mib(Array.MaxLength)} MiB that one image file can be read into");
        // A file that grows while it is read (a download in progress) is read up to its size at open, never
        // without end; one that shrinks gives what is left, which the structure checks then call truncated.
        reserve?.Invoke(size);
        var bytes = new byte[size];
        long done = 0;
        while (done < size)
        {
            int n;
            try
            {
                n = RandomAccess.Read(handle, bytes.AsSpan((int)done), done);
            }
            catch (IOException e)
            {
                throw new ClassifyException(Unreadable(e.HResult) ? ExitCode.ImageUnreadable : ExitCode.ImageNotFound, path, $"cannot read: {e.Message}");
            }
            if (n == 0)
                break; // it shrank: the decoder sees a truncated file and says so
            done += n;
        }
        return done == size ? bytes : bytes[..(int)done];
    }

    public static ClassifyException TooLarge(string path, long size, long maxBytes) =>
        new(ExitCode.ImageTooLarge, path, $"file is {Mib(size)} MiB, over the limit of {Mib(maxBytes)} MiB (--max_file_size)");

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);

    private static ClassifyException OpenError(string path, int errno) => errno switch
    {
        NativeFile.ENOENT or NativeFile.ENOTDIR => new ClassifyException(ExitCode.ImageNotFound, path, "no such file"),
        _ => new ClassifyException(Unreadable(errno) ? ExitCode.ImageUnreadable : ExitCode.ImageNotFound, path,
            $"cannot read: {Marshal.GetPInvokeErrorMessage(errno)}"),
    };

    /// <summary>Whether a failed open or read says something about the machine rather than the file (exit 17,
    /// ImageUnreadable): EPERM, EIO, EAGAIN, ENOMEM, EACCES, ENFILE, EMFILE, ETIMEDOUT, ESTALE, ENOLINK, EREMOTEIO.
    /// A resumed run reads such files again instead of replaying the failure.</summary>
    public static bool Unreadable(int errno) => errno is 1 or 5 or 11 or 12 or 13 or 23 or 24 or 110 or 116 or 67 or 121;

    private static byte[] ReadPortable(string path, long maxBytes, Action<long>? reserve)
    {
        try
        {
            using var handle = File.OpenHandle(path);
            return ReadBounded(handle, path, RandomAccess.GetLength(handle), maxBytes, reserve);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ClassifyException(ExitCode.ImageNotFound, path, "no such file");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.ImageUnreadable, path, $"cannot read: {e.Message}");
        }
    }
}
