namespace Classify.Inputs;

/// <summary>Where the images of a run come from, as the user gave them.</summary>
public sealed record InputOptions
{
    public IReadOnlyList<string> Files { get; init; } = [];
    public string? Directory { get; init; }
    public bool Recursive { get; init; }

    /// <summary>A file with one image path per line, or "-" for standard input.</summary>
    public string? List { get; init; }

    /// <summary>--null: the list's paths end with NUL bytes (find -print0), not newlines.</summary>
    public bool NullSeparated { get; init; }

    /// <summary>Uncompressed tar archives whose image members are inputs (--image_tar), listed into <see cref="Tars"/>.</summary>
    public IReadOnlyList<string> Archives { get; init; } = [];
    public TarShards? Tars { get; init; }

    /// <summary>Where a warning about the inputs goes (a list whose names resolve elsewhere than its author meant).</summary>
    public Action<string>? Warn { get; init; }
}

/// <summary>
/// The ordered list of images of a run: files in the order given, then the folder's images sorted by
/// ordinal path (so every run, and every shard of it, sees the same order), then the list's lines in order.
/// </summary>
public static class InputSet
{
    /// <summary>Extensions --image_dir picks up; other files in the folder are not images and are skipped.</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp" };

    public static List<string> Enumerate(InputOptions options, TextReader? stdin = null)
    {
        var inputs = new List<string>(options.Files);
        if (options.Archives.Count > 0)
        {
            var tars = options.Tars ?? throw new ArgumentException("archives need a TarShards", nameof(options));
            foreach (var archive in options.Archives)
                inputs.AddRange(tars.Add(archive));
        }
        if (options.Directory is { } dir)
        {
            if (!IsDirectory(dir))
                throw new ClassifyException(ExitCode.InputListUnreadable, dir,
                    Exists(dir) ? "is a file, not a directory (use --image_file)" : "no such directory");
            try
            {
                var found = DirectoryWalk.Files(dir, options.Recursive)
                    .Where(f => ImageExtensions.Contains(Path.GetExtension(f)))
                    .ToList();
                found.Sort(StringComparer.Ordinal);
                inputs.AddRange(found);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ClassifyException(ExitCode.InputListUnreadable, dir, $"cannot list: {e.Message}");
            }
        }
        if (options.List is { } list)
        {
            // Opening a folder as a file fails with "Access denied", which would send the user after permissions.
            if (list != "-" && IsDirectory(list))
                throw new ClassifyException(ExitCode.InputListUnreadable, list, "is a directory, not a list of image paths (use --image_dir)");
            // A device (/dev/zero) never ends; a FIFO or standard input is read as it comes.
            if (list != "-" && FileStatus.OfPath(list) is { Type: FileStatus.CharDevice or FileStatus.BlockDevice })
                throw new ClassifyException(ExitCode.InputListUnreadable, list, "is a device, not a list of image paths");
            try
            {
                var separator = options.NullSeparated ? (byte)0 : (byte)'\n';
                var name = list == "-" ? "standard input" : list;
                // Lists are read as bytes, so that a name that is not UTF-8 survives (FileNames); an injected reader
                // (a test's standard input) is text already.
                if (list == "-" && stdin is not null && stdin != Console.In)
                    ImageList.Read(stdin, separator, name, inputs);
                else
                {
                    var first = inputs.Count;
                    using (var stream = list == "-" ? Console.OpenStandardInput() : NativeFile.OpenRead(list))
                        ImageList.Read(stream, separator, name, inputs);
                    if (list != "-" && options.Warn is { } warn && RelativeNamesHint(list, inputs, first) is { } hint)
                        warn(hint);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ClassifyException(ExitCode.InputListUnreadable, list,
                    e is FileNotFoundException or DirectoryNotFoundException ? "no such image list file" : $"cannot read the image list: {e.Message}");
            }
        }
        return inputs;
    }

    /// <summary>
    /// A list's relative names resolve against the working directory, as in tar -T and rsync --files-from. When the
    /// first of them (up to 8 looked at) is missing there but present beside the list, the user surely meant the
    /// list's folder: say so once, before every image reports "no such file" (issue 29).
    /// </summary>
    public static string? RelativeNamesHint(string list, IReadOnlyList<string> inputs, int first)
    {
        var listDir = Path.GetDirectoryName(Path.GetFullPath(list))!;
        var cwd = Path.GetFullPath(".").TrimEnd('/');
        if (listDir.TrimEnd('/') == cwd) return null;
        for (var i = first; i < inputs.Count && i < first + 8; i++)
        {
            var name = inputs[i];
            if (Path.IsPathRooted(name)) continue;
            if (Exists(name)) return null;
            if (Exists(Path.Combine(listDir, name)))
                return $"warning: {list}: names in a list resolve against the working directory ({cwd}), not the list's folder: "
                    + $"{name} is not here but is in {listDir}; cd there, or list absolute paths";
        }
        return null;
    }

    /// <summary>Extensions that make a path given without a flag a list of image paths rather than an image.</summary>
    public static readonly IReadOnlySet<string> ListExtensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".txt", ".lst", ".list" };

    /// <summary>
    /// Paths given without a flag, as ripgrep and fd take them, each expanded in place: a folder as --image_dir, a
    /// .txt/.lst/.list file as --image_list, "-" as a list on standard input, anything else as --image_file (a
    /// missing image then gets its own "no such file" result, as with --image_file). A bare word that names nothing
    /// (no dot, no slash) is a mistyped command, not an image: <paramref name="commands"/> are offered.
    /// </summary>
    public static List<string> FromPaths(IEnumerable<string> paths, bool recursive, IReadOnlyList<string> commands, TextReader? stdin = null, bool nullSeparated = false, TarShards? tars = null, Action<string>? warn = null)
    {
        var inputs = new List<string>();
        foreach (var path in paths)
        {
            if (path == "-" || (ListExtensions.Contains(Path.GetExtension(path)) && Exists(path)))
                inputs.AddRange(Enumerate(new InputOptions { List = path, NullSeparated = nullSeparated, Warn = warn }, stdin));
            else if (tars is not null && TarShards.IsArchive(path) && Exists(path))
                inputs.AddRange(tars.Add(path));
            else if (IsDirectory(path))
                inputs.AddRange(Enumerate(new InputOptions { Directory = path, Recursive = recursive }));
            else if (!Exists(path) && !path.Contains('.') && !path.Contains('/'))
                throw new ClassifyException(ExitCode.Usage, null, UnknownWord(path, commands));
            else
                inputs.Add(path);
        }
        return inputs;
    }

    // By the name's bytes (FileNames), unlike File.Exists and Directory.Exists; links followed, as they follow them.
    private static bool IsDirectory(string path) =>
        OperatingSystem.IsLinux() ? FileStatus.TypeOf(path) == FileStatus.Directory : System.IO.Directory.Exists(path);

    private static bool Exists(string path) =>
        OperatingSystem.IsLinux() ? FileStatus.TypeOf(path) is { } t && t != FileStatus.Directory : File.Exists(path);

    private static string UnknownWord(string word, IReadOnlyList<string> commands)
    {
        var hint = Suggestions.Closest(word, commands) is { } closest ? $"did you mean '{closest}'? " : "";
        return $"'{ClassifyException.Printable(word)}' is neither a command ({string.Join(", ", commands)}) nor an existing file or folder; {hint}see classify --help";
    }
}
