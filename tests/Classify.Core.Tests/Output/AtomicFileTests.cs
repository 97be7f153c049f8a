using Classify.Output;

namespace Classify.Tests.Output;

public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static void WriteText(AtomicFile file, string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        file.Stream.Write(bytes);
    }

    [Fact]
    public void Committed_file_has_the_content_and_no_temp_file_remains()
    {
        var path = _dir.File("out.jsonl");
        using (var file = new AtomicFile(path))
        {
            WriteText(file, "done\n");
            file.Commit();
        }

        Assert.Equal("done\n", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Nothing_appears_under_the_name_before_commit()
    {
        var path = _dir.File("out.jsonl");
        using var file = new AtomicFile(path);
        WriteText(file, "half");
        file.Stream.Flush();

        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Uncommitted_file_leaves_nothing_behind()
    {
        var path = _dir.File("out.jsonl");
        using (var file = new AtomicFile(path))
            WriteText(file, "half");

        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Uncommitted_file_keeps_the_previous_result()
    {
        var path = _dir.File("out.csv");
        File.WriteAllText(path, "old\n");
        using (var file = new AtomicFile(path))
            WriteText(file, "half");

        Assert.Equal("old\n", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_dir.Path));
    }

    [Fact]
    public void Commit_replaces_an_existing_file()
    {
        var path = _dir.File("out.csv");
        File.WriteAllText(path, "old\n");
        using (var file = new AtomicFile(path))
        {
            WriteText(file, "new\n");
            file.Commit();
        }

        Assert.Equal("new\n", File.ReadAllText(path));
    }

    [Fact]
    public void Missing_folder_is_OutputFailed()
    {
        var e = Assert.Throws<ClassifyException>(() => new AtomicFile(_dir.File("no/such/out.json")).Dispose());

        Assert.Equal(ExitCode.OutputFailed, e.ExitCode);
    }

    [Fact]
    public void Directory_as_output_is_OutputFailed()
    {
        Directory.CreateDirectory(_dir.File("out"));

        var e = Assert.Throws<ClassifyException>(() => new AtomicFile(_dir.File("out")).Dispose());

        Assert.Equal(ExitCode.OutputFailed, e.ExitCode);
    }
}
