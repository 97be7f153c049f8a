using System.Text;

namespace Classify.Tests;

/// <summary>
/// File names that are not UTF-8 (<c>caf\xe9.png</c>, Latin-1), through the binary: from the command line, a folder, a
/// list and a NUL-separated list on standard input, into every format, through a sharded run and its merge. Bytes are
/// passed by bash ($'\xe9'), because .NET cannot start a process with such an argument.
/// </summary>
public sealed class FileNameBytesTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly byte[] Latin1Name = [.. "caf"u8, 0xE9, .. ".png"u8];

    /// <summary>A folder "photos" with chelsea as caf\xe9.png and coffee as plain.png, created by name bytes.</summary>
    private string Photos()
    {
        var photos = Path.Combine(_dir.Path, "photos");
        if (Directory.Exists(photos))
            return photos;
        Directory.CreateDirectory(photos);
        File.Copy(TestData.Coffee, Path.Combine(photos, "plain.png"));
        var r = ClassifyProcess.RunScript($"cp '{TestData.Chelsea}' photos/$'caf\\xe9.png'", _dir.Path);
        Assert.Equal(0, r.ExitCode);
        return photos;
    }

    private (int ExitCode, byte[] Stdout, string Stderr) Classify(string arguments, byte[]? stdin = null)
    {
        Photos();
        return ClassifyProcess.RunScript($"exec \"$CLASSIFY\" {arguments}", _dir.Path, stdin);
    }

    private static bool HasBytes(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    [Theory]
    [InlineData("photos/$'caf\\xe9.png' -n 1 -f jsonl")]
    [InlineData("--image_file photos/$'caf\\xe9.png' -n 1 -f jsonl")]
    [InlineData("--image_dir photos -n 1 -f jsonl")]
    [InlineData("photos -n 1 -f jsonl")]
    public void A_latin1_name_is_classified_and_written_as_a_json_escape(string arguments)
    {
        var r = Classify(arguments);
        Assert.Equal(0, r.ExitCode);
        var text = Encoding.UTF8.GetString(r.Stdout);
        // \udce9 is how Python's json.loads + os.fsencode give the byte back (surrogateescape).
        Assert.StartsWith("{\"file\":\"photos/caf\\udce9.png\",\"predictions\":[{\"label\":\"Egyptian cat\"", text);
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public void Text_and_csv_name_the_file_by_its_bytes()
    {
        var csv = Classify("photos -n 1 -f csv");
        Assert.Equal(0, csv.ExitCode);
        Assert.True(HasBytes(csv.Stdout, [.. "photos/"u8, .. Latin1Name, .. ",1,Egyptian cat,285,"u8]), Encoding.Latin1.GetString(csv.Stdout));

        var text = Classify("photos -n 1");
        Assert.True(HasBytes(text.Stdout, [.. "==> photos/"u8, .. Latin1Name, .. " <==\nEgyptian cat (score = 0.75903)\n"u8]), Encoding.Latin1.GetString(text.Stdout));
    }

    [Fact]
    public void Lists_carry_the_bytes_too_newline_and_nul_separated()
    {
        byte[] list = [.. "photos/"u8, .. Latin1Name, (byte)'\n', .. "photos/plain.png\n"u8];
        File.WriteAllBytes(_dir.File("todo.txt"), list);
        var fromFile = Classify("--image_list todo.txt -n 1 -f jsonl");
        Assert.Equal(0, fromFile.ExitCode);
        Assert.Contains("\"file\":\"photos/caf\\udce9.png\",\"predictions\":[{\"label\":\"Egyptian cat\"", Encoding.UTF8.GetString(fromFile.Stdout));

        byte[] nul = [.. "photos/"u8, .. Latin1Name, 0, .. "photos/plain.png"u8, 0];
        var fromStdin = Classify("- -0 -n 1 -f csv", nul);
        Assert.Equal(0, fromStdin.ExitCode);
        Assert.True(HasBytes(fromStdin.Stdout, [.. "photos/"u8, .. Latin1Name, .. ",1,Egyptian cat,"u8]));
        Assert.Contains("photos/plain.png,1,espresso,", Encoding.UTF8.GetString(fromStdin.Stdout));
    }

    [Fact]
    public void A_missing_latin1_name_is_reported_with_its_byte_escaped()
    {
        var r = Classify("photos/$'caf\\xe9x.png'");
        Assert.Equal(ExitCode.ImageNotFound, r.ExitCode);
        Assert.Equal("classify: photos/caf\\xe9x.png: no such file\n", r.Stderr);
    }

    [Fact]
    public void Shards_of_such_names_merge_into_one_runs_bytes_in_every_format()
    {
        foreach (var format in new[] { "jsonl", "csv", "text", "json" })
        {
            var one = Classify($"photos -f {format} -o one.{format}");
            Assert.Equal(0, one.ExitCode);
            for (var i = 0; i < 2; i++)
                Assert.Equal(0, Classify($"photos --shard {i}/2 -o s{i}.jsonl").ExitCode);
            var merge = Classify($"merge -f {format} -o merged.{format} s1.jsonl s0.jsonl");
            Assert.Equal(0, merge.ExitCode);
            Assert.Equal(File.ReadAllBytes(_dir.File($"one.{format}")), File.ReadAllBytes(_dir.File($"merged.{format}")));
        }
    }
}
