using Classify.Inputs;

namespace Classify.Evaluation;

/// <summary>
/// What each image is: from one folder per class (ImageNet's train/val layout, torchvision's ImageFolder: a folder
/// named by WordNet id or by label, images anywhere below it), or from a truth file (csv or tsv: FILE,LABEL per line,
/// with an optional header "file,label", "file,class" or "file,synset" saying what the second column holds; without
/// one, n######## is a WordNet id and anything else a label). A name the model does not know stops eval (exit 31)
/// naming the folder or line and the closest class, before any image is classified.
/// </summary>
public sealed class GroundTruth
{
    private GroundTruth(List<(string File, int Class)> rows, List<string> unlabeled)
    {
        Rows = rows;
        Unlabeled = unlabeled;
    }

    /// <summary>The labelled images, in the order found (folders and files in ordinal order; a truth file's order).</summary>
    public IReadOnlyList<(string File, int Class)> Rows { get; }

    /// <summary>Images beside the class folders, in no class: counted and listed, not evaluated.</summary>
    public IReadOnlyList<string> Unlabeled { get; }

    public static GroundTruth FromFolders(string dir, ClassNames names)
    {
        if (!Directory.Exists(dir))
            throw new ClassifyException(ExitCode.InputListUnreadable, dir, File.Exists(dir) ? "is a file, not a folder of class folders" : "no such directory");
        var rows = new List<(string, int)>();
        var unlabeled = Images(dir, recursive: false);
        var folders = Directory.EnumerateDirectories(dir).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        if (folders.Count == 0)
            throw new ClassifyException(ExitCode.EvalDataInvalid, dir,
                "has no class folders: eval DIR wants one folder per class (n02124075/ or Egyptian_cat/), or give --truth FILE");
        foreach (var folder in folders)
        {
            var c = names.Find(Path.GetFileName(folder), folder);
            rows.AddRange(Images(folder, recursive: true).Select(f => (f, c)));
        }
        return new GroundTruth(rows, unlabeled);
    }

    private static List<string> Images(string dir, bool recursive)
    {
        var found = DirectoryWalk.Files(dir, recursive).Where(f => InputSet.ImageExtensions.Contains(Path.GetExtension(f))).ToList();
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <param name="imageDir">Where the file's relative names are; null: as written (against the working directory).</param>
    public static GroundTruth FromFile(string path, ClassNames names, string? imageDir)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClassifyException(ExitCode.EvalDataInvalid, path,
                e is FileNotFoundException or DirectoryNotFoundException ? "no such truth file" : $"cannot read the truth file: {e.Message}");
        }
        var rows = new List<(string, int)>();
        var first = Array.FindIndex(lines, l => l.Trim().Length > 0 && !l.StartsWith('#'));
        if (first < 0)
            throw new ClassifyException(ExitCode.EvalDataInvalid, path, "holds no labelled image (FILE,LABEL per line)");
        var separator = Delimited.SeparatorOf(path, lines[first]);
        string? column = null;
        for (var i = first; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0 || lines[i].StartsWith('#')) continue;
            var where = $"{path}:{i + 1}";
            List<string> fields;
            try
            {
                fields = Delimited.Split(lines[i], separator);
            }
            catch (FormatException e)
            {
                throw new ClassifyException(ExitCode.EvalDataInvalid, where, e.Message);
            }
            if (fields.Count < 2 || fields[0].Length == 0)
                throw new ClassifyException(ExitCode.EvalDataInvalid, where,
                    $"expected FILE{(separator == '\t' ? "<tab>" : ",")}LABEL (a label with commas in a csv is quoted: \"tabby, tabby cat\")");
            if (i == first && fields[0].Trim().ToLowerInvariant() is "file" or "path" or "filename" or "image")
            {
                column = fields[1].Trim().ToLowerInvariant();
                if (column is not ("label" or "class" or "synset"))
                    throw new ClassifyException(ExitCode.EvalDataInvalid, where, $"the second column is '{fields[1]}': name it label, class or synset");
                continue;
            }
            var value = fields[1].Trim();
            var c = column == "class" ? names.Index(value, where) : names.Find(value, where);
            var file = fields[0];
            rows.Add((imageDir is null || Path.IsPathRooted(file) ? file : Path.Combine(imageDir, file), c));
        }
        if (rows.Count == 0)
            throw new ClassifyException(ExitCode.EvalDataInvalid, path, "holds no labelled image (FILE,LABEL per line)");
        return new GroundTruth(rows, []);
    }
}
