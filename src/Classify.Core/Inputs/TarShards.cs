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
            var links = new List<(string Name, string Target, bool Symbolic)>();
            var files = new Dictionary<string, Member>(StringComparer.Ordinal);
            try
            {
                while (reader.GetNextEntry(copyData: false) is { } entry)
                {
                    count++;
                    var isLink = entry.EntryType is TarEntryType.HardLink or TarEntryType.SymbolicLink;
                    var isFile = entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile;
                    var member = MemberName(entry.Name);
                    var name = $"{archive}/{member}";
                    var end = entry.DataOffset + entry.Length;
                    var problem = end > length ? $"truncated: the archive ends {length - entry.DataOffset} bytes into this member of {entry.Length}" : null;
                    if (isFile) files[name] = new Member(archive, entry.DataOffset, entry.Length, problem); // a link's possible target
                    if (!(isLink || isFile) || !InputSet.ImageExtensions.Contains(Path.GetExtension(entry.Name)))
                        continue;
                    if (isLink)
                    {
                        // Resolved once the whole archive is listed: a symbolic link may name a later member.
                        var target = entry.EntryType == TarEntryType.HardLink ? MemberName(entry.LinkName)
                            : entry.LinkName.StartsWith('/') ? entry.LinkName : Normalise(Path.GetDirectoryName(member) is { Length: > 0 } dir ? $"{dir}/{entry.LinkName}" : entry.LinkName);
                        links.Add((name, target, entry.EntryType == TarEntryType.SymbolicLink));
                        names.Add(name);
                        continue;
                    }
                    _members[name] = files[name];
                    names.Add(name);
                    if (problem is not null) break;
                }
                if (count == 0)
                {
                    // An empty file or an archive without members holds no image: an error naming it, not an empty result.
                    _members[archive] = new Member(archive, 0, 0, length == 0 ? "is empty (0 bytes), not a tar archive" : "is a tar archive without members");
                    names.Add(archive);
                }
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException or IOException)
            {
                _members[archive] = new Member(archive, 0, 0, count == 0 ? $"is not a tar archive ({e.Message})"
                    : $"not a valid tar archive after {count} entries ({e.Message}); the {names.Count} image member(s) before were classified");
                names.Add(archive);
            }
            var byName = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, target, _) in links) byName[name] = target;
            foreach (var (name, target, symbolic) in links)
                _members[name] = Resolve(archive, target, symbolic, byName, files);
        }
        return names;
    }

    /// <summary>A member's name as inputs show it: no leading '/' or "./" (tar -C dir .).</summary>
    private static string MemberName(string entryName)
    {
        var member = entryName.TrimStart('/');
        while (member.StartsWith("./", StringComparison.Ordinal)) member = member[2..];
        return member;
    }

    /// <summary>"a/./b/../c" as "a/c"; null where ".." climbs out of the archive.</summary>
    private static string Normalise(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..")
            {
                if (parts.Count == 0) return "../" + path; // outside the archive: no member has that name
                parts.RemoveAt(parts.Count - 1);
            }
            else parts.Add(part);
        }
        return string.Join('/', parts);
    }

    /// <summary>A link member reads the bytes of the member it names (links to links followed, 40 at most); a link to
    /// something that is no image member of the archive is an error of its own, naming the target.</summary>
    private static Member Resolve(string archive, string target, bool symbolic, Dictionary<string, string> links, Dictionary<string, Member> files)
    {
        var current = $"{archive}/{target}";
        for (var hops = 0; hops < 40 && links.TryGetValue(current, out var next); hops++)
            current = $"{archive}/{next}";
        return !links.ContainsKey(current) && files.TryGetValue(current, out var m)
            ? m
            : new Member(archive, 0, 0, $"{(symbolic ? "a symbolic" : "a hard")} link to '{target}', which names no file in this archive");
    }

    /// <summary>The bytes of member <paramref name="name"/>, or null when it is not a member of a listed archive.</summary>
    public byte[]? TryRead(string name, long maxBytes, Action<long>? reserve = null)
    {
        if (!_members.TryGetValue(name, out var m))
            return null;
        if (m.Problem is not null)
            throw new ClassifyException(ExitCode.ImageCorrupt, name, m.Problem);
        if (m.Length > maxBytes)
            throw Images.ImageFile.TooLarge(name, m.Length, maxBytes);
        if (m.Length > Array.MaxLength)
            throw new ClassifyException(ExitCode.ImageTooLarge, name, "member is over the 2 GiB that one image can be read into");
        reserve?.Invoke(m.Length);
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
            throw new ClassifyException(Images.ImageFile.Unreadable(e.HResult) ? ExitCode.ImageUnreadable : ExitCode.ImageNotFound, name, $"cannot read the tar archive: {e.Message}");
        }
        return bytes;
    }
}
