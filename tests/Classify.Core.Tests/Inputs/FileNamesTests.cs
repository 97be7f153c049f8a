using System.Text;
using Classify.Inputs;
using Classify.Output;

namespace Classify.Tests.Inputs;

public sealed class FileNamesTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Any_bytes_round_trip_and_utf8_is_left_as_text()
    {
        var random = new Random(16);
        for (var n = 0; n < 2000; n++)
        {
            var bytes = new byte[random.Next(0, 24)];
            random.NextBytes(bytes);
            Assert.Equal(bytes, FileNames.ToBytes(FileNames.FromBytes(bytes)));
        }
        Assert.Equal("Ünïcødé 猫 🐈.png", FileNames.FromBytes(Encoding.UTF8.GetBytes("Ünïcødé 猫 🐈.png")));
        Assert.False(FileNames.HasEscapes(FileNames.FromBytes(Encoding.UTF8.GetBytes("🐈.png"))));
    }

    [Fact]
    public void Invalid_bytes_become_the_surrogates_python_uses()
    {
        // Python: os.fsdecode(b'caf\xe9\xed\xb2\x80.png') == 'caf\udce9\udced\udcb2\udc80.png' (an encoded surrogate is
        // invalid UTF-8 too, byte by byte).
        Assert.Equal("caf\udce9\udced\udcb2\udc80.png", FileNames.FromBytes([.. "caf"u8, 0xE9, 0xED, 0xB2, 0x80, .. ".png"u8]));
        Assert.Equal("caf\\xe9.png", FileNames.Printable("caf\udce9.png"));
        Assert.Equal("a\\x1b\\xe9", ClassifyException.Printable("a\x1b\udce9"));
    }

    [Fact]
    public void A_folder_walk_lists_names_by_their_bytes()
    {
        // Made with bash, which passes the bytes; .NET could not create such a name.
        var script = "mkdir -p d/sub d/.hidden && touch d/$'caf\\xe9.png' d/plain.png d/sub/$'\\xff.jpg' d/.dot.png d/.hidden/x.png && ln -s sub d/link";
        var bash = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash", ["-c", script]) { WorkingDirectory = _dir.Path })!;
        bash.WaitForExit();
        Assert.Equal(0, bash.ExitCode);
        var folder = Path.Combine(_dir.Path, "d");

        var inputs = InputSet.Enumerate(new InputOptions { Directory = folder, Recursive = true });

        // Sorted ordinally; hidden names skipped; the link to a folder not followed.
        Assert.Equal([Path.Combine(folder, "caf\udce9.png"), Path.Combine(folder, "plain.png"), Path.Combine(folder, "sub", "\udcff.jpg")],
            inputs.Order(StringComparer.Ordinal));
        Assert.Equal(inputs, inputs.Order(StringComparer.Ordinal));
        Assert.Equal(2, InputSet.Enumerate(new InputOptions { Directory = folder }).Count);
        // And the name opens its file.
        Assert.Equal(FileStatus.Regular, FileStatus.TypeOf(inputs[0]));
    }

    [Fact]
    public void A_list_is_split_as_bytes_and_a_bom_skipped()
    {
        using var list = new MemoryStream([0xEF, 0xBB, 0xBF, .. "a.png\r\n"u8, .. "caf"u8, 0xE9, .. ".png\n"u8, .. " \n  b c.png  \n"u8]);
        var into = new List<string>();
        ImageList.Read(list, (byte)'\n', "list", into);
        Assert.Equal(["a.png", "caf\udce9.png", "  b c.png  "], into);
    }

    [Fact]
    public void The_raw_writer_writes_escaped_bytes_as_bytes_and_pairs_as_utf8()
    {
        var stream = new MemoryStream();
        using (var writer = new RawNameWriter(stream))
        {
            writer.Write("caf\udce9 ");
            writer.Write('\uD83D'); // a pair split over two writes
            writer.Write('\uDC08');
            writer.Write(new string('x', 70_000));
            writer.Write("\uDC00!"); // a lone surrogate no name decoding makes
        }
        var bytes = stream.ToArray();
        Assert.Equal([.. "caf"u8, 0xE9, (byte)' ', .. "🐈"u8], bytes[..9]);
        Assert.Equal(9 + 70_000 + 4, bytes.Length);
        Assert.Equal([.. "\uFFFD!"u8], bytes[^4..]);
    }

    [Fact]
    public void Json_carries_such_a_name_as_escapes_and_reads_it_back()
    {
        var name = "dir/caf\udce9 \"q\".png";
        Assert.Equal("\"dir/caf\\udce9 \\\"q\\\".png\"", JsonNames.Quote(name));
        var line = Encoding.UTF8.GetBytes($"{{\"file\":{JsonNames.Quote(name)},\"predictions\":[{{\"label\":\"a\",\"class\":1,\"score\":0.5}}]}}");
        Assert.Equal(name, ResultJson.TryParse(line)!.File);
    }
}
