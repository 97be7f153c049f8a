using System.Runtime.InteropServices;

namespace Classify.Inputs;

/// <summary>
/// The files of a folder (and its subfolders), by readdir(3), so that names come as the bytes they are
/// (<see cref="FileNames"/>): .NET's Directory.EnumerateFiles decodes them as UTF-8 and a Latin-1 name comes back with
/// U+FFFD in it, naming no file. Otherwise it lists what EnumerateFiles with RecurseSubdirectories and Hidden skipped
/// listed before: names starting with '.' are skipped, symbolic links to files are files, links to folders are not
/// followed (a link loop cannot make a walk endless), and a folder that cannot be read is an error.
/// </summary>
internal static partial class DirectoryWalk
{
    private const byte DT_UNKNOWN = 0, DT_DIR = 4, DT_LNK = 10;

    // struct dirent on 64-bit glibc (the same as dirent64): d_ino, d_off (8 bytes each), d_reclen (2), d_type (1), d_name.
    private const int TypeOffset = 18, NameOffset = 19;

    /// <exception cref="IOException">A folder cannot be read.</exception>
    public static IEnumerable<string> Files(string folder, bool recursive)
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8)
            return Directory.EnumerateFiles(folder, "*", new EnumerationOptions
            {
                RecurseSubdirectories = recursive, IgnoreInaccessible = false, AttributesToSkip = FileAttributes.Hidden,
            });
        var found = new List<string>();
        Walk(folder, recursive, found);
        return found;
    }

    private static void Walk(string folder, bool recursive, List<string> found)
    {
        var dir = OpenDir(FileNames.ToCString(folder));
        if (dir == IntPtr.Zero)
            throw new IOException($"{FileNames.Printable(folder)}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        var folders = new List<string>();
        try
        {
            while (true)
            {
                Marshal.SetLastPInvokeError(0);
                var entry = ReadDir(dir);
                if (entry == IntPtr.Zero)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != 0)
                        throw new IOException($"{FileNames.Printable(folder)}: {Marshal.GetPInvokeErrorMessage(errno)}");
                    break;
                }
                var name = NameOf(entry);
                if (name.IsEmpty || name[0] == (byte)'.')
                    continue;
                var path = Path.Join(folder, FileNames.FromBytes(name));
                var type = Marshal.ReadByte(entry, TypeOffset);
                if (type is DT_UNKNOWN or DT_LNK && FileStatus.TypeOf(path) == FileStatus.Directory)
                {
                    // A link to a folder is not followed.
                    if (type == DT_UNKNOWN && recursive) folders.Add(path);
                }
                else if (type == DT_DIR)
                {
                    if (recursive) folders.Add(path);
                }
                else
                {
                    // Everything else, as EnumerateFiles lists it: a dangling link or a FIFO then gets a result saying so.
                    found.Add(path);
                }
            }
        }
        finally
        {
            _ = CloseDir(dir);
        }
        foreach (var sub in folders)
            Walk(sub, recursive, found);
    }

    private static unsafe ReadOnlySpan<byte> NameOf(IntPtr entry) =>
        MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)entry + NameOffset);

    [LibraryImport("libc", EntryPoint = "opendir", SetLastError = true)]
    private static partial IntPtr OpenDir(byte[] path);

    [LibraryImport("libc", EntryPoint = "readdir", SetLastError = true)]
    private static partial IntPtr ReadDir(IntPtr dir);

    [LibraryImport("libc", EntryPoint = "closedir")]
    private static partial int CloseDir(IntPtr dir);
}
