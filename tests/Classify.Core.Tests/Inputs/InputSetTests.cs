using Classify.Inputs;

namespace Classify.Tests.Inputs;

public sealed class InputSetTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Touch(string relative)
    {
        var path = _dir.File(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    [Fact]
    public void Files_keep_the_order_given()
    {
        var inputs = InputSet.Enumerate(new InputOptions { Files = ["z.png", "a.png", "m.jpg"] });

        Assert.Equal(["z.png", "a.png", "m.jpg"], inputs);
    }

    [Fact]
    public void Directory_is_sorted_ordinally()
    {
        // Ordinal: upper case before lower case, "10" before "9", whatever the locale.
        var expected = new[] { "B.png", "a.png", "img10.jpg", "img9.jpg" }.Select(Touch).ToList();

        var inputs = InputSet.Enumerate(new InputOptions { Directory = _dir.Path });

        Assert.Equal(expected, inputs);
    }

    [Fact]
    public void Directory_keeps_only_image_extensions_in_any_case()
    {
        var expected = new[] { "a.JPG", "b.jpeg", "c.png", "d.bmp", "e.gif", "f.webp" }.Select(Touch).ToList();
        Touch("notes.txt");
        Touch("scan.tiff");
        Touch("noext");

        Assert.Equal(expected, InputSet.Enumerate(new InputOptions { Directory = _dir.Path }));
    }

    [Fact]
    public void Directory_skips_hidden_files()
    {
        var visible = Touch("a.png");
        Touch("._a.png");

        Assert.Equal([visible], InputSet.Enumerate(new InputOptions { Directory = _dir.Path }));
    }

    [Fact]
    public void Directory_without_recursive_ignores_subfolders()
    {
        var top = Touch("a.png");
        Touch("sub/b.png");

        Assert.Equal([top], InputSet.Enumerate(new InputOptions { Directory = _dir.Path }));
    }

    [Fact]
    public void Recursive_directory_includes_subfolders_in_ordinal_path_order()
    {
        var expected = new[] { "a.png", "a/b.png", "a/c/d.png", "b.png" }.Select(Touch).ToList();

        Assert.Equal(expected, InputSet.Enumerate(new InputOptions { Directory = _dir.Path, Recursive = true }));
    }

    [Fact]
    public void Missing_directory_is_InputListUnreadable()
    {
        var e = Assert.Throws<ClassifyException>(() => InputSet.Enumerate(new InputOptions { Directory = _dir.File("nope") }));

        Assert.Equal(ExitCode.InputListUnreadable, e.ExitCode);
        Assert.Equal(_dir.File("nope"), e.File);
    }

    [Fact]
    public void File_given_as_directory_is_InputListUnreadable()
    {
        var file = Touch("a.png");

        var e = Assert.Throws<ClassifyException>(() => InputSet.Enumerate(new InputOptions { Directory = file }));

        Assert.Equal(ExitCode.InputListUnreadable, e.ExitCode);
        Assert.Contains("--image_file", e.Message);
    }

    [Fact]
    public void List_file_skips_blank_and_comment_lines_and_keeps_names_as_written()
    {
        // Spaces belong to the names (a file may start or end with one); only the CR of a CRLF line end is dropped,
        // a CR inside a line stays in the name rather than splitting it.
        var list = _dir.File("list.txt");
        File.WriteAllText(list, "a.png\n\n# a comment\n  b.jpg  \r\n\t\nc d.png\ne\rf.png\nlast.png");

        Assert.Equal(["a.png", "  b.jpg  ", "c d.png", "e\rf.png", "last.png"], InputSet.Enumerate(new InputOptions { List = list }));
    }

    [Fact]
    public void A_byte_order_mark_is_skipped_on_standard_input_too()
    {
        Assert.Equal(["x.png", "y.png"], InputSet.Enumerate(new InputOptions { List = "-" }, new StringReader("\uFEFFx.png\r\ny.png\r\n")));
    }

    [Fact]
    public void Nul_separated_lists_take_every_record_as_it_is()
    {
        var inputs = InputSet.Enumerate(new InputOptions { List = "-", NullSeparated = true }, new StringReader("a b.png\0# not a comment.png\0line\nbreak.png\0"));

        Assert.Equal(["a b.png", "# not a comment.png", "line\nbreak.png"], inputs);
    }

    [Theory]
    [InlineData(false, "line 1 is over 16,384 bytes")]
    [InlineData(true, "record 2 is empty")]
    public void Endless_or_binary_lists_end_in_one_line_errors(bool nul, string problem)
    {
        var junk = nul ? "a.png\0\0\0\0" : new string('x', 20_000);
        var e = Assert.Throws<ClassifyException>(() => InputSet.Enumerate(new InputOptions { List = "-", NullSeparated = nul }, new StringReader(junk)));

        Assert.Equal(ExitCode.InputListUnreadable, e.ExitCode);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void A_device_is_not_read_as_a_list()
    {
        var e = Assert.Throws<ClassifyException>(() => InputSet.Enumerate(new InputOptions { List = "/dev/zero" }));

        Assert.Equal(ExitCode.InputListUnreadable, e.ExitCode);
        Assert.Equal("is a device, not a list of image paths", e.Message);
        Assert.Equal("/dev/zero", e.File);
    }

    [Fact]
    public void Dash_reads_the_list_from_stdin()
    {
        var inputs = InputSet.Enumerate(new InputOptions { List = "-" }, new StringReader("x.png\n# skip\ny.png\n"));

        Assert.Equal(["x.png", "y.png"], inputs);
    }

    [Fact]
    public void Missing_list_file_is_InputListUnreadable()
    {
        var e = Assert.Throws<ClassifyException>(() => InputSet.Enumerate(new InputOptions { List = _dir.File("nope.txt") }));

        Assert.Equal(ExitCode.InputListUnreadable, e.ExitCode);
        Assert.Equal(_dir.File("nope.txt"), e.File);
    }

    [Fact]
    public void Directory_given_as_list_is_InputListUnreadable()
    {
        var e = Assert.Throws<ClassifyException>(() => InputSet.Enumerate(new InputOptions { List = _dir.Path }));

        Assert.Equal(ExitCode.InputListUnreadable, e.ExitCode);
        Assert.Contains("--image_dir", e.Message);
    }

    [Fact]
    public void Files_then_directory_then_list()
    {
        var inDir = Touch("d/a.png");
        var list = _dir.File("list.txt");
        File.WriteAllText(list, "from-list.png\n");

        var inputs = InputSet.Enumerate(new InputOptions { Files = ["given.png"], Directory = _dir.File("d"), List = list });

        Assert.Equal(["given.png", inDir, "from-list.png"], inputs);
    }
}
