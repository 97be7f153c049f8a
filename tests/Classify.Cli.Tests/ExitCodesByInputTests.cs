using System.Text.Json;
using SixLabors.ImageSharp;

namespace Classify.Tests;

/// <summary>
/// The exit code, kind and message of every family of input, good and bad, through the binary: each file in one batch
/// (its record's code, kind and message) and alone (the process's exit code). Messages are classify's words, the
/// decoder's only after a colon. The README's "What each input gives" table is this one.
/// </summary>
public sealed class ExitCodesByInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private sealed record Case(string File, int Code, string Message);

    private string Write(string name, byte[] bytes)
    {
        var path = _dir.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private string Encoded(string name, Action<Image, string> save)
    {
        using var image = Image.Load(TestData.Chelsea);
        var path = _dir.File(name);
        save(image, path);
        return path;
    }

    private static byte[] Bmp1Bit(int width, int height)
    {
        var row = (width + 31) / 32 * 4;
        using var s = new MemoryStream();
        var w = new BinaryWriter(s);
        w.Write("BM"u8); w.Write(62 + row * height); w.Write(0); w.Write(62);
        w.Write(40); w.Write(width); w.Write(height); w.Write((short)1); w.Write((short)1); w.Write(0); w.Write(row * height);
        w.Write(2835); w.Write(2835); w.Write(2); w.Write(2); w.Write(0); w.Write(0xFFFFFF);
        w.Write(new byte[row * height]);
        return s.ToArray();
    }

    private List<Case> Cases()
    {
        var jpeg = File.ReadAllBytes(TestData.Rocket);
        var png = File.ReadAllBytes(TestData.Chelsea);
        var gif = Encoded("chelsea.gif", (i, p) => i.SaveAsGif(p));
        var webp = Encoded("chelsea.webp", (i, p) => i.SaveAsWebp(p));
        var bmp = Encoded("chelsea.bmp", (i, p) => i.SaveAsBmp(p));
        var badCrc = (byte[])png.Clone();
        badCrc[29] ^= 0xFF; // IHDR's CRC
        var fifo = _dir.File("pipe.png");
        Assert.Equal(0, Mkfifo(fifo, 0x1B6));
        var dangling = _dir.File("dangling.png");
        File.CreateSymbolicLink(dangling, _dir.File("gone.png"));
        var sparse = _dir.File("sparse.jpg");
        using (var f = File.Create(sparse)) f.SetLength(300L << 20);
        Directory.CreateDirectory(_dir.File("folder.png"));
        return
        [
            // JPEG
            new(TestData.Rocket, 0, ""),
            new(Write("cut8.jpg", jpeg[..8]), 5, "truncated JPEG file: its 8 bytes end inside the header"),
            new(Write("half.jpg", jpeg[..(jpeg.Length / 2)]), 5, "truncated JPEG file (it ends before the image data does)"),
            // PNG
            new(TestData.Chelsea, 0, ""),
            new(Write("cut4.png", png[..4]), 5, "truncated PNG file: its 4 bytes end inside the header"),
            new(Write("half.png", png[..(png.Length / 2)]), 5, "truncated PNG file (it ends before the image data does)"),
            new(Write("crc.png", badCrc), 5, "corrupt PNG data (libspng: invalid chunk checksum)"),
            // Exactly at the pixel limit: libspng decodes it row by row (ImageSharp could not have the memory: exit 6).
            new(Write("wide.png", TestPng.ZeroRows(17_895_697, 10)), 0, ""),
            new(Write("huge.png", TestPng.ZeroRows(20_000, 20_000)), 6, "20000x20000 pixels is over the limit of 178,956,970 pixels"),
            // GIF, WebP, BMP
            new(gif, 0, ""),
            new(Write("half.gif", File.ReadAllBytes(gif)[..(int)(new FileInfo(gif).Length / 2)]), 5, "truncated GIF file (it ends before the image data does)"),
            new(webp, 0, ""),
            new(Write("half.webp", File.ReadAllBytes(webp)[..(int)(new FileInfo(webp).Length / 2)]), 5, "truncated Webp file (it ends before the image data does)"),
            new(bmp, 0, ""),
            new(Write("half.bmp", File.ReadAllBytes(bmp)[..(int)(new FileInfo(bmp).Length / 2)]), 5, "truncated BMP file (it ends before the image data does)"),
            new(Write("wide.bmp", Bmp1Bit(100_000, 20)), 6, "100000x20 pixels: the BMP decoder takes at most 65535 pixels a side"),
            // Not images
            new(Write("notes.png", "just text\n"u8.ToArray()), 4, "not an image in a supported format (JPEG, PNG, BMP, GIF, WebP)"),
            new(Write("tiff.png", [(byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0]), 4, "not an image in a supported format"),
            new(Write("empty.png", []), 4, "is empty (0 bytes), not an image"),
            new(fifo, 4, "not an image file: a FIFO (named pipe)"),
            new("/dev/null", 4, "not an image file: a character device"),
            // Files that are not there, or too big to read
            new(_dir.File("missing.png"), 3, "no such file"),
            new(dangling, 3, "no such file"),
            new(_dir.File("folder.png"), 3, "is a directory, not an image file (use --image_dir for folders)"),
            new(sparse, 6, "file is 300 MiB, over the limit of 256 MiB (--max_file_size)"),
        ];
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mkfifo", SetLastError = true)]
    private static extern int Mkfifo(string path, int mode);

    [Fact]
    public void Every_input_family_gets_its_exit_code_kind_and_a_message_for_users()
    {
        var cases = Cases();
        var batch = ClassifyProcess.Run([.. cases.SelectMany(c => new[] { "--image_file", c.File }), "-f", "jsonl", "-n", "1"]);
        Assert.Equal(ExitCode.SomeImagesFailed, batch.ExitCode);
        var records = batch.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(cases.Select(c => c.File), records.Select(r => r.GetProperty("file").GetString()));
        foreach (var (c, r) in cases.Zip(records))
        {
            if (c.Code == 0)
            {
                Assert.True(r.TryGetProperty("predictions", out _), $"{c.File}: {r}");
                continue;
            }
            var error = r.GetProperty("error");
            Assert.True((c.Code, Classify.ExitCodeNames.Of(c.Code)) == (error.GetProperty("code").GetInt32(), error.GetProperty("kind").GetString()), $"{c.File}: {error}");
            Assert.StartsWith($"{c.File}: {c.Message}", error.GetProperty("message").GetString());
        }
        // Alone, the process exits with the image's code, and says so in one line.
        foreach (var c in cases)
        {
            var alone = ClassifyProcess.Run("--image_file", c.File, "-n", "1");
            Assert.True(c.Code == alone.ExitCode, $"{c.File}: exit {alone.ExitCode}, expected {c.Code}: {alone.Stderr}");
            if (c.Code != 0)
                Assert.StartsWith($"classify: {c.File}: {c.Message}", Assert.Single(alone.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        }
    }

    [Fact]
    public void A_decode_over_its_deadline_is_a_timeout_and_a_file_over_2_GiB_too_large_whatever_the_limit()
    {
        var slow = Write("slow.png", TestPng.ZeroRows(13_000, 13_000));
        var timeout = ClassifyProcess.Run("--image_file", slow, "--decode_timeout", "0.01");
        Assert.Equal(ExitCode.ImageTimeout, timeout.ExitCode);
        Assert.Equal($"classify: {slow}: decoding PNG took over 0.01 s (--decode_timeout)\n", timeout.Stderr);

        var giant = _dir.File("giant.jpg");
        using (var f = File.Create(giant)) f.SetLength(2560L << 20);
        var big = ClassifyProcess.Run("--image_file", giant, "--max_file_size", "4096");
        Assert.Equal(ExitCode.ImageTooLarge, big.ExitCode);
        Assert.Equal($"classify: {giant}: file is 2560 MiB, over the 2048 MiB that one image file can be read into\n", big.Stderr);
    }
}
