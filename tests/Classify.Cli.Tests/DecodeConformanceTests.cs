using System.Diagnostics;

namespace Classify.Tests;

/// <summary>
/// The corpus of tests/conformance/make_corpus.py (camera JPEGs with EXIF in all orientations, XMP, ICC, IPTC, MPO,
/// progressive, 4:4:4, CMYK; 16-bit, interlaced, palette and APNG PNG; animated GIF and WebP; BMP), generated once
/// with Debian's tools and decoded by python3-pil as the independent reference, then decoded by the real classify
/// (`classify decode`; under scripts/ci/install-test.sh the installed Native AOT binary).
/// </summary>
public sealed class ConformanceCorpus : IDisposable
{
    public ConformanceCorpus()
    {
        var script = Path.Combine(TestData.RepoRoot, "tests", "conformance", "make_corpus.py");
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(script);
        start.ArgumentList.Add(_dir.Path);
        using var p = Process.Start(start)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{script} failed (needs python3-pil, imagemagick, libjpeg-turbo-progs, exiftool: scripts/test.sh installs them): {err.Result}");
        Files = System.IO.File.ReadAllLines(Path.Combine(_dir.Path, "corpus.tsv"))
            .Select(l => l.Split('\t'))
            .ToDictionary(f => f[0], f => f[1]);
    }

    private readonly TempDir _dir = new();

    public string File(string name) => _dir.File(name);

    /// <summary>File name → tolerance class (lossless, jpeg, cmyk, webp).</summary>
    public IReadOnlyDictionary<string, string> Files { get; }

    public void Dispose() => _dir.Dispose();
}

public sealed class DecodeConformanceTests(ConformanceCorpus corpus) : IClassFixture<ConformanceCorpus>
{
    /// <summary>
    /// How far classify's pixels may be from PIL's. With libjpeg-turbo decoding JPEG (the library PIL uses too) every
    /// format but CMYK JPEG gives the same pixels, up to 1 from rounding 16-bit samples to 8 (measured: 0). CMYK and
    /// ImageSharp's own JPEG decoder (the fallback without libturbojpeg.so.0): ImageSharp's IDCT and chroma upsampling
    /// are not libjpeg-turbo's "fancy" upsampling, which moves colour edges by a few levels; measured on this corpus:
    /// mean ≤ 0.82, 99th percentile ≤ 8 grey levels. A missed or wrong orientation gives another shape or a mean
    /// difference far above 10, and a grey or black hole from a decoder that gave up moves the 99th percentile far
    /// above 12.
    /// </summary>
    private static (double Mean, int P99) Tolerance(string cls, bool imageSharpJpeg) =>
        cls == "cmyk" || (imageSharpJpeg && cls == "jpeg") ? (1.5, 12) : (0.01, 1);

    /// <summary>classify decode's output: an 8-bit binary PPM (PngSuiteTests.ReadPnm reads it, and PGM and 16-bit too).</summary>
    private static (int W, int H, byte[] Rgb) ReadPpm(string path)
    {
        Assert.Equal("P6\n"u8.ToArray(), File.ReadAllBytes(path)[..3]);
        return PngSuiteTests.ReadPnm(path);
    }

    private static readonly Dictionary<string, string?> ImageSharpJpeg = new() { ["CLASSIFY_TURBOJPEG"] = "off" };

    private void AssertDecodesLikePil(string name, bool imageSharpJpeg)
    {
        var (w, h, pixels) = ReadPpm(DecodeToPpm(name, imageSharpJpeg ? ImageSharpJpeg : null));
        var (rw, rh, reference) = ReadPpm(corpus.File(name) + ".ref.ppm");
        Assert.True((w, h) == (rw, rh), $"{name}: classify sees {w}x{h}, PIL {rw}x{rh} (orientation?)");
        var histogram = new long[256];
        long sum = 0;
        for (var i = 0; i < pixels.Length; i++)
        {
            var d = Math.Abs(pixels[i] - reference[i]);
            histogram[d]++;
            sum += d;
        }
        var mean = (double)sum / pixels.Length;
        int p99 = 0;
        for (long seen = 0; p99 < 256 && (seen += histogram[p99]) < pixels.Length * 0.99; p99++) { }
        var (maxMean, maxP99) = Tolerance(corpus.Files[name], imageSharpJpeg);
        Assert.True(mean <= maxMean && p99 <= maxP99,
            $"{name}: mean difference {mean:F3} (at most {maxMean}), 99th percentile {p99} (at most {maxP99}) against PIL");
    }

    private void AssertAll(Func<string, bool> which, bool imageSharpJpeg = false)
    {
        var names = corpus.Files.Keys.Where(which).ToList();
        Assert.NotEmpty(names);
        var failures = new List<string>();
        foreach (var name in names)
        {
            try { AssertDecodesLikePil(name, imageSharpJpeg); }
            catch (Exception e) when (e is Xunit.Sdk.XunitException) { failures.Add(e.Message); }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Camera_photos_with_EXIF_in_every_orientation_decode_upright_like_PIL() =>
        AssertAll(n => n.StartsWith("exif-", StringComparison.Ordinal));

    [Fact]
    public void JPEG_variants_with_metadata_including_arithmetic_coding_decode_like_PIL() =>
        AssertAll(n => n.StartsWith("jpeg-", StringComparison.Ordinal));

    [Fact]
    public void JPEG_decodes_with_libjpeg_turbo_where_it_is_installed()
    {
        // The tests run where scripts/test.sh installed libturbojpeg0: the exact-pixel tolerances above rely on it.
        var r = ClassifyProcess.Run("--verbose", "--image_file", corpus.File("jpeg-baseline-420.jpg"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("JPEG decoder: libjpeg-turbo (", r.Stderr);
    }

    [Fact]
    public void Without_libjpeg_turbo_ImageSharp_decodes_the_same_JPEGs_within_its_tolerance() =>
        AssertAll(n => (n.StartsWith("jpeg-", StringComparison.Ordinal) || n.StartsWith("exif-", StringComparison.Ordinal)) && n != "jpeg-arithmetic.jpg",
            imageSharpJpeg: true);

    [Fact]
    public void PNG_variants_decode_like_PIL() => AssertAll(n => n.StartsWith("png-", StringComparison.Ordinal));

    [Fact]
    public void GIF_WebP_and_BMP_including_animations_decode_their_first_frame_like_PIL() =>
        AssertAll(n => n.StartsWith("gif-", StringComparison.Ordinal) || n.StartsWith("webp-", StringComparison.Ordinal) || n.StartsWith("bmp-", StringComparison.Ordinal));

    [Fact]
    public void Without_libjpeg_turbo_an_arithmetic_coded_JPEG_is_refused_with_the_fix_in_one_line()
    {
        // ImageSharp 2.1 has no arithmetic decoder (README, Images).
        var file = corpus.File("jpeg-arithmetic.jpg");
        var r = ClassifyProcess.Run(["--image_file", file], env: ImageSharpJpeg);
        Assert.Equal(ExitCode.ImageUnsupported, r.ExitCode);
        Assert.Equal($"classify: {file}: arithmetic-coded JPEG, which ImageSharp cannot decode (install libturbojpeg.so.0: libturbojpeg0 on Debian/Ubuntu, turbojpeg on RHEL)", r.Stderr.Trim());
    }

    [Fact]
    public void A_GIF_whose_LZW_data_ends_early_is_corrupt_not_classified_with_a_background_hole()
    {
        var file = corpus.File("corrupt-gif-short-lzw.gif");
        var r = ClassifyProcess.Run("--image_file", file);
        Assert.Equal(ExitCode.ImageCorrupt, r.ExitCode);
        Assert.Matches($"^classify: {System.Text.RegularExpressions.Regex.Escape(file)}: corrupt GIF: its first frame's data ends after [0-9,]+ of its 135,300 pixels$", r.Stderr.Trim());
    }

    [Fact]
    public void A_JPEG_whose_scan_data_ends_early_is_corrupt_not_classified_with_grey_blocks()
    {
        // Cut inside the entropy-coded data, an EOI put back: the structure is whole, the data is not.
        foreach (var name in new[] { "jpeg-baseline-420.jpg", "jpeg-progressive.jpg" })
        {
            var bytes = File.ReadAllBytes(corpus.File(name));
            var cut = corpus.File("cut-" + name);
            File.WriteAllBytes(cut, [.. bytes[..(int)(bytes.Length * 0.6)], 0xFF, 0xD9]);
            var r = ClassifyProcess.Run("--image_file", cut);
            Assert.Equal(ExitCode.ImageCorrupt, r.ExitCode);
            Assert.Equal($"classify: {cut}: corrupt JPEG data (libjpeg: premature end of data segment)", r.Stderr.Trim());
        }
    }

    [Fact]
    public void All_nine_orientations_of_a_camera_photo_decode_to_the_same_upright_picture()
    {
        // Each is its own JPEG encoding of the picture, so they differ by the re-encoding (PIL: mean ≤ 4.3 grey
        // levels against _1); a missed or wrong turn or flip gives another shape or a mean far above 20.
        foreach (var kind in new[] { "Landscape", "Portrait" })
        {
            var (w1, h1, upright) = ReadPpm(DecodeToPpm($"exif-{kind}_1.jpg"));
            for (var i = 0; i <= 8; i++)
            {
                var (w, h, pixels) = ReadPpm(DecodeToPpm($"exif-{kind}_{i}.jpg"));
                Assert.True((w, h) == (w1, h1), $"{kind}_{i}: {w}x{h}, {kind}_1 is {w1}x{h1}");
                long sum = 0;
                for (var j = 0; j < pixels.Length; j++) sum += Math.Abs(pixels[j] - upright[j]);
                var mean = (double)sum / pixels.Length;
                Assert.True(mean <= 6, $"{kind}_{i}: mean difference {mean:F2} from {kind}_1");
            }
        }
    }

    [Fact]
    public void All_nine_orientations_of_the_portrait_give_the_same_top_1()
    {
        // MobileNet's top-1 on the portrait is clear (geyser, 0.5-0.97). On the landscape its top two tie
        // (Landscape_2: alp 0.2193, cliff 0.2193), so the landscape's labels are not a test of orientation.
        var args = new List<string> { "--model", TestData.MobileNet, "--format", "jsonl", "--num_top_predictions", "1" };
        for (var i = 0; i <= 8; i++)
            args.AddRange(["--image_file", Path.Combine(TestData.Images, "exif-orientation", $"Portrait_{i}.jpg")]);
        var r = ClassifyProcess.Run(args);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var top1 = r.StdoutLines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement
            .GetProperty("predictions")[0].GetProperty("label").GetString()).ToList();
        Assert.Equal(Enumerable.Repeat("geyser", 9), top1);
    }

    /// <summary>What each resize mode is in Pillow: torchvision's bilinear resize of the whole photo (stretch), and TF
    /// slim's tf.image.central_crop (its float64 arithmetic) then a bilinear resize of that window (central crop).</summary>
    private const string PillowModelPicture =
        "import sys; from PIL import Image, ImageOps; " +
        "im = ImageOps.exif_transpose(Image.open(sys.argv[1])).convert('RGB'); f = float(sys.argv[3]); " +
        "l = int((im.width - im.width * f) / 2); t = int((im.height - im.height * f) / 2); " +
        "im = im if f == 1 else im.crop((l, t, im.width - l, im.height - t)); " +
        "open(sys.argv[2], 'wb').write(im.resize((224, 224), Image.BILINEAR).tobytes())";

    [Theory]
    [InlineData("chelsea.png", TestData.SqueezeNet, 1.0)]
    [InlineData("rocket.jpg", TestData.SqueezeNet, 1.0)]
    [InlineData("exif-orientation/Portrait_6.jpg", TestData.SqueezeNet, 1.0)]  // turned, then resized
    [InlineData("exif-orientation/Landscape_3.jpg", TestData.SqueezeNet, 1.0)]
    [InlineData("chelsea.png", TestData.EdgeTpuFloat, 0.875)]                   // central crop: 451x300 gives a 395x264 window
    [InlineData("exif-orientation/Portrait_6.jpg", TestData.EdgeTpuFloat, 0.875)] // the crop is cut from the upright picture
    [InlineData("coffee.png", TestData.EdgeTpuQuant, 0.875)]
    public void The_models_input_picture_is_pillows_resize_byte_for_byte(string name, string model, double fraction)
    {
        // What the model's training preprocessing does to a photo before its 224x224, in PIL: decode, EXIF transpose,
        // the manifest's crop, bilinear resize.
        var file = Path.Combine(TestData.Images, name);
        var got = corpus.File(name.Replace('/', '-') + $".{model}.ppm");
        // --full_decode: PIL decodes in full; the two large JPEGs are otherwise scaled in the DCT first, as classify does.
        var r = ClassifyProcess.Run(["decode", file, "--model", model, "--output", got, "--full_decode"]);
        Assert.True(r.ExitCode == 0, $"{name}: exit {r.ExitCode}: {r.Stderr}");
        var want = corpus.File(name.Replace('/', '-') + $".{model}.pil.rgb");
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardError = true };
        foreach (var a in new[] { "-c", PillowModelPicture, file, want, fraction.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        using (var p = Process.Start(start)!)
        {
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, err);
        }
        var (w, h, rgb) = ReadPpm(got);
        Assert.Equal((224, 224), (w, h));
        var pil = File.ReadAllBytes(want);
        var differing = rgb.Where((b, i) => b != pil[i]).Count();
        Assert.True(differing == 0, $"{name}, {model}: {differing} of {rgb.Length} bytes differ from PIL's");
    }

    private string DecodeToPpm(string name, IDictionary<string, string?>? env = null)
    {
        var got = corpus.File(name + ".classify.ppm");
        var r = ClassifyProcess.Run(["decode", corpus.File(name), "--output", got], env: env);
        Assert.True(r.ExitCode == 0, $"{name}: exit {r.ExitCode}: {r.Stderr}");
        return got;
    }
}
