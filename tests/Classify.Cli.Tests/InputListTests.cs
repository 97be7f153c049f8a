using System.Text.Json;

namespace Classify.Tests;

/// <summary>Image lists through the real binary: names exactly as written, CRLF and BOM, NUL-separated lists, and lists
/// that are not lists.</summary>
public sealed class InputListTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Copy(string name)
    {
        var path = _dir.File(name);
        File.Copy(TestData.Chelsea, path);
        return path;
    }

    private static List<string?> Files(ProcessResult r) =>
        r.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("file").GetString()).ToList();

    [Fact]
    public void Find_print0_names_with_spaces_and_line_breaks_are_classified_as_named()
    {
        string[] names = [Copy(" leading space.png"), Copy("trailing space.png "), Copy("line\nbreak.png"), Copy("carriage\rreturn.png")];
        var r = ClassifyProcess.Run(["--image_list", "-", "-0", "-f", "jsonl", "-n", "1"], stdin: string.Join('\0', names) + "\0");

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(names, Files(r));
        Assert.All(r.StdoutLines, l => Assert.Contains("Egyptian cat", l));
    }

    [Fact]
    public void A_crlf_list_with_a_byte_order_mark_on_standard_input_reads_every_name()
    {
        string[] names = [Copy("a.png"), Copy("b c.png")];
        var r = ClassifyProcess.Run(["-", "-f", "jsonl"], stdin: "\uFEFF" + string.Join("\r\n", names) + "\r\n");

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(names, Files(r));
    }

    [Fact]
    public void Trailing_spaces_are_part_of_the_name_not_trimmed_away()
    {
        var spaced = Copy("photo.png ");
        var r = ClassifyProcess.Run(["-", "-f", "jsonl"], stdin: spaced + "\n");

        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal([spaced], Files(r));
    }

    [Fact]
    public void Nul_bytes_in_a_newline_list_and_a_device_as_a_list_are_one_line_errors()
    {
        var nul = ClassifyProcess.Run(["-"], stdin: "a.png\0b.png\n");
        Assert.Equal(ExitCode.InputListUnreadable, nul.ExitCode);
        Assert.Equal("classify: standard input: line 1 holds a NUL byte: not a list of image paths (for a NUL-separated list, as find -print0 writes, add --null)", nul.Stderr.Trim());

        var device = ClassifyProcess.Run("--image_list", "/dev/zero");
        Assert.Equal(ExitCode.InputListUnreadable, device.ExitCode);
        Assert.Equal("classify: /dev/zero: is a device, not a list of image paths", device.Stderr.Trim());
    }
}
