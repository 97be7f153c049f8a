using System.Formats.Tar;

namespace Classify.Inputs;

/// <summary>
/// Images inside uncompressed tar archives (the WebDataset layout that keeps millions of small files off a parallel
/// file system's metadata servers), classified without extracting them. Listing an archive reads its headers once
/// and records where each image member's bytes lie; an input named <c>ARCHIVE/MEMBER</c> is then read with one seek,
/// bounded like a file. Members come in archive order and are picked by extension as --image_dir picks files, so a
/// shard of the inputs is a stable range of members across runs.
/// </summary>
public sealed class TarShards
{
    private readonly record struct Member(string Archive, long Offset, long Length, string? Problem);

    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);

    public bool IsEmpty => _members.Count == 0;

    public static bool IsArchive(string path) => path.EndsWith(".tar", StringComparison.OrdinalIgnoreCase);

    /// <summary>Lists <paramref name="archive"/>'s image members as ARCHIVE/MEMBER names, in archive order. A corrupt
    /// or cut header ends the listing: the members before it are kept, and the archive's own name is added as an input
    /// that fails with the reason, so the run reports it and classifies the rest.</summary>
    public IReadOnlyList<string> Add(string archive)
    {
        var names = new List<string>();
        FileStream stream;
        try
        {
            stream = new FileStream(archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.InputListUnreadable, archive, e is FileNotFoundException or DirectoryNotFoundException ? "no such tar archive" : $"cannot read the tar archive: {e.Message}");
        }
        using (stream)
        {
            var length = stream.Length;
            var reader = new TarReader(stream);
            var count = 0;
            try
            {
                while (reader.GetNextEntry(copyData: false) is { } entry)
                {
                    count++;
                    if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile)
                        || !InputSet.ImageExtensions.Contains(Path.GetExtension(entry.Name)))
                        continue;
                    var member = entry.Name.TrimStart('/');
                    while (member.StartsWith("./", StringComparison.Ordinal)) member = member[2..]; // tar -C dir .
                    var name = $"{archive}/{member}";
                    var end = entry.DataOffset + entry.Length;
                    var problem = end > length ? $"truncated: the archive ends {length - entry.DataOffset} bytes into this member of {entry.Length}" : null;
                    _members[name] = new Member(archive, entry.DataOffset, entry.Length, problem);
                    names.Add(name);
                    if (problem is not null) break;
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException or IOException)
            {
                _members[archive] = new Member(archive, 0, 0, $"not a valid tar archive after {count} entries ({e.Message}); the {names.Count} image member(s) before were classified");
                names.Add(archive);
            }
        }
        return names;
    }

    /// <summary>The bytes of member <paramref name="name"/>, or null when it is not a member of a listed archive.</summary>
    public byte[]? TryRead(string name, long maxBytes)
    {
        if (!_members.TryGetValue(name, out var m))
            return null;
        if (m.Problem is not null)
            throw new ClassifyException(ExitCode.ImageCorrupt, name, m.Problem);
        if (m.Length > maxBytes)
            throw Images.ImageFile.TooLarge(name, m.Length, maxBytes);
        if (m.Length > Array.MaxLength)
            throw new ClassifyException(ExitCode.ImageTooLarge, name, "member is over the 2 GiB that one image can be read into");
        var bytes = new byte[m.Length];
        try
        {
            using var stream = new FileStream(m.Archive, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            stream.Position = m.Offset;
            stream.ReadExactly(bytes);
        }
        catch (EndOfStreamException)
        {
            throw new ClassifyException(ExitCode.ImageCorrupt, name, "truncated: the archive shrank since it was listed");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.ImageNotFound, name, $"cannot read the tar archive: {e.Message}");
        }
        return bytes;
    }
}
