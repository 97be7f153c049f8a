using System.Diagnostics;
using System.Text.Json.Nodes;
using Xunit;

namespace Classify.Tests;

/// <summary>
/// `classify --image_tar` and positional *.tar, through the real binary, on archives written by GNU tar and by Python's
/// tarfile in every header format they write (ustar, pax, GNU long names), with nested folders and files that are not
/// images: each result must equal classifying the same bytes as extracted files.
/// </summary>
public sealed class TarInputTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly string _tree;
    // Deeper than the 100 characters a plain ustar name field holds: GNU tar writes a long-name entry, pax a header.
    private const string LongFolder = "a-folder-whose-name-is-long-enough-to-need-a-long-name-header/and-one-more-level-below-it";

    public TarInputTests()
    {
        _tree = Path.Combine(_dir.Path, "tree");
        Directory.CreateDirectory(Path.Combine(_tree, "nested", LongFolder));
        File.Copy(TestData.Chelsea, Path.Combine(_tree, "chelsea.png"));
        File.Copy(TestData.Coffee, Path.Combine(_tree, "nested", "coffee.png"));
        File.Copy(Path.Combine(TestData.Images, "exif-orientation", "Portrait_6.jpg"), Path.Combine(_tree, "nested", LongFolder, "Portrait_6.jpg"));
        File.Copy(TestData.Rocket, Path.Combine(_tree, "nested", "rocket.jpg"));
        File.WriteAllText(Path.Combine(_tree, "chelsea.cls"), "285\n"); // a WebDataset label file: not an image, skipped
        File.WriteAllText(Path.Combine(_tree, "broken.jpg"), "not a JPEG at all");
    }

    public void Dispose() => _dir.Dispose();

    private static void Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {err}");
    }

    private string GnuTar(string format)
    {
        var tar = Path.Combine(_dir.Path, $"gnu-{format}.tar");
        Run("tar", "-cf", tar, $"--format={format}", "--sort=name", "-C", _tree, ".");
        return tar;
    }

    private string PythonTar(string format)
    {
        var tar = Path.Combine(_dir.Path, $"py-{format}.tar");
        Run("/usr/bin/python3", "-c", $"import tarfile,sys; t=tarfile.open(sys.argv[1], 'w', format=tarfile.{format}_FORMAT); t.add(sys.argv[2], arcname='shard'); t.close()", tar, _tree);
        return tar;
    }

    /// <summary>The run's records keyed by the member's path inside the tree, without the name itself.</summary>
    private static Dictionary<string, string> Records(ProcessResult run, string prefix) =>
        run.StdoutLines.Select(l => JsonNode.Parse(l)!.AsObject()).ToDictionary(
            o => o["file"]!.GetValue<string>()[prefix.Length..].TrimStart('/'),
            o => { o.Remove("file"); return o.ToJsonString(); });

    private Dictionary<string, string> Extracted()
    {
        var files = Directory.EnumerateFiles(_tree, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".cls", StringComparison.Ordinal)).ToList();
        var run = ClassifyProcess.Run(["-f", "jsonl", "-n", "3", .. files.SelectMany(f => new[] { "--image_file", f })]);
        return Records(run, _tree);
    }

    [Theory]
    [InlineData("gnu", false)]
    [InlineData("ustar", false)]
    [InlineData("pax", false)]
    [InlineData("GNU", true)]
    [InlineData("PAX", true)]
    public void Every_member_classifies_as_the_extracted_file_does(string format, bool python)
    {
        if (!python && format == "ustar") // ustar cannot hold the long name at all: GNU tar refuses, so leave it out
            Directory.Delete(Path.Combine(_tree, "nested", LongFolder.Split('/')[0]), recursive: true);
        var tar = python ? PythonTar(format) : GnuTar(format);
        var run = ClassifyProcess.Run("--image_tar", tar, "-f", "jsonl", "-n", "3");
        Assert.Equal(7, run.ExitCode); // broken.jpg fails, the others have results
        var fromTar = Records(run, tar);
        if (python) fromTar = fromTar.ToDictionary(p => p.Key["shard/".Length..], p => p.Value);
        var expected = Extracted();
        Assert.Equal(expected.Keys.Order(), fromTar.Keys.Order());
        foreach (var (member, record) in expected)
        {
            if (member == "broken.jpg")
                Assert.Contains("\"code\":4", fromTar[member]);
            else
                Assert.Equal(record, fromTar[member]);
        }
        Assert.Contains(run.StdoutLines, l => l.Contains(TestData.EgyptianCat));
    }

    [Fact]
    public void Shards_of_archives_merge_into_the_whole_run()
    {
        var a = GnuTar("gnu");
        var b = PythonTar("PAX");
        var whole = ClassifyProcess.Run(a, b, "-f", "jsonl", "-o", Path.Combine(_dir.Path, "whole.jsonl"), "--quiet");
        Assert.Equal(7, whole.ExitCode);
        for (var i = 0; i < 3; i++)
            ClassifyProcess.Run(a, b, "--shard", $"{i}/3", "-f", "jsonl", "-o", Path.Combine(_dir.Path, "results.{shard}.jsonl"), "--quiet");
        var merged = Path.Combine(_dir.Path, "merged.jsonl");
        var merge = ClassifyProcess.Run(["merge", "--output", merged, .. Enumerable.Range(0, 3).Select(i => Path.Combine(_dir.Path, $"results.shard-000{i}-of-0003.jsonl"))]);
        Assert.True(merge.ExitCode == 0, merge.Stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir.Path, "whole.jsonl")), File.ReadAllBytes(merged));
    }

    [Fact]
    public void A_cut_archive_reports_the_cut_member_and_keeps_the_ones_before()
    {
        var tar = GnuTar("gnu");
        var bytes = File.ReadAllBytes(tar);
        var cut = Path.Combine(_dir.Path, "cut.tar");
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 9 / 10)]); // inside the last member (rocket.jpg, by name order)
        var run = ClassifyProcess.Run(cut, "-f", "jsonl", "-n", "1");
        Assert.Contains(run.StdoutLines, l => l.Contains("truncated: the archive ends") && l.Contains("\"code\":5"));
        Assert.Contains(run.StdoutLines, l => l.Contains("\"predictions\":[{"));
        Assert.True(run.ExitCode is 5 or 7, run.Stderr);

        var garbage = Path.Combine(_dir.Path, "garbage.tar");
        File.WriteAllBytes(garbage, [.. Enumerable.Repeat((byte)'x', 4096)]);
        var both = ClassifyProcess.Run(garbage, tar, "-f", "csv", "-n", "1");
        Assert.Equal(7, both.ExitCode);
        Assert.Contains("garbage.tar: is not a tar archive", both.Stdout);
        Assert.Contains(TestData.EgyptianCat, both.Stdout);
    }

    [Fact]
    public void A_member_over_the_file_size_limit_is_too_large()
    {
        File.WriteAllBytes(Path.Combine(_tree, "huge.png"), new byte[(1 << 20) + 1]);
        var run = ClassifyProcess.Run("--image_tar", GnuTar("gnu"), "--max_file_size", "1", "-f", "csv", "-n", "1");
        Assert.Equal(7, run.ExitCode);
        Assert.Contains(run.StdoutLines, l => l.Contains("/huge.png,") && l.Contains(",6,ImageTooLarge,", StringComparison.Ordinal));
    }

    [Fact]
    public void Hard_and_symbolic_link_members_are_classified_as_their_targets_and_a_dangling_one_is_an_error_naming_it()
    {
        // GNU tar stores a second name of a file as a hard link member and a symbolic link as itself; both used to be
        // skipped without a word.
        var tree = Path.Combine(_dir.Path, "links");
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        File.Copy(TestData.Chelsea, Path.Combine(tree, "cat.png"));
        File.Copy(TestData.Coffee, Path.Combine(tree, "sub", "coffee.png"));
        Run("ln", Path.Combine(tree, "cat.png"), Path.Combine(tree, "hard.png"));
        File.CreateSymbolicLink(Path.Combine(tree, "sym.png"), "sub/coffee.png");
        File.CreateSymbolicLink(Path.Combine(tree, "sub", "up.png"), "../cat.png");
        File.CreateSymbolicLink(Path.Combine(tree, "chain.png"), "sym.png");
        File.CreateSymbolicLink(Path.Combine(tree, "dangling.png"), "missing.png");
        var tar = Path.Combine(_dir.Path, "links.tar");
        Run("tar", "-cf", tar, "-C", tree, "cat.png", "sub/coffee.png", "hard.png", "sym.png", "sub/up.png", "chain.png", "dangling.png");

        var run = ClassifyProcess.Run(tar, "-f", "jsonl", "-n", "1");

        Assert.Equal(ExitCode.SomeImagesFailed, run.ExitCode);
        var rows = run.StdoutLines.Select(l => JsonNode.Parse(l)!).ToDictionary(r => r["file"]!.GetValue<string>()[(tar.Length + 1)..],
            r => r["error"]?["message"]?.GetValue<string>() ?? r["predictions"]![0]!["label"]!.GetValue<string>());
        Assert.Equal(new Dictionary<string, string>
        {
            ["cat.png"] = TestData.EgyptianCat, ["sub/coffee.png"] = TestData.Espresso, ["hard.png"] = TestData.EgyptianCat,
            ["sym.png"] = TestData.Espresso, ["sub/up.png"] = TestData.EgyptianCat, ["chain.png"] = TestData.Espresso,
            ["dangling.png"] = $"{tar}/dangling.png: a symbolic link to 'missing.png', which names no file in this archive",
        }, rows);
        Assert.Equal($"classify: {tar}/dangling.png: a symbolic link to 'missing.png', which names no file in this archive\n", run.Stderr);
    }

    [Theory]
    [InlineData(0, "is empty (0 bytes), not a tar archive")]
    [InlineData(10240, "is a tar archive without members")]
    public void An_empty_archive_is_an_error_naming_it(int zeros, string problem)
    {
        var tar = Path.Combine(_dir.Path, "empty.tar");
        File.WriteAllBytes(tar, new byte[zeros]); // 10240 zero bytes: what tar -cf x.tar -T /dev/null writes
        var run = ClassifyProcess.Run("--image_tar", tar, "-f", "jsonl");
        Assert.Equal(ExitCode.ImageCorrupt, run.ExitCode);
        Assert.Equal($"classify: {tar}: {problem}\n", run.Stderr);
        Assert.Single(run.StdoutLines);
    }
}
