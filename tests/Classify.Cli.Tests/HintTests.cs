namespace Classify.Tests;

/// <summary>A new user's first mistakes, through the binary: getopt habits work, and each error says the fix in one
/// line (issue 29).</summary>
public sealed class HintTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Getopt_short_options_take_an_attached_value()
    {
        var attached = ClassifyProcess.Run("-n1", "-fcsv", TestData.Chelsea);
        var separate = ClassifyProcess.Run("-n", "1", "-f", "csv", TestData.Chelsea);
        Assert.Equal((0, ""), (attached.ExitCode, attached.Stderr));
        Assert.Equal(separate.Stdout, attached.Stdout);
        Assert.Equal(2, attached.StdoutLines.Length); // the csv header and one prediction
    }

    [Fact]
    public void A_folder_with_images_only_in_subfolders_suggests_recursive()
    {
        var top = Path.Combine(_dir.Path, "top");
        Directory.CreateDirectory(Path.Combine(top, "sub"));
        File.Copy(TestData.Chelsea, Path.Combine(top, "sub", "cat.png"));
        var r = ClassifyProcess.Run(top);
        Assert.Equal($"classify: warning: no images found in {top} (its subfolders were not searched: add --recursive)\n", r.Stderr);
        Assert.Contains(TestData.EgyptianCat, ClassifyProcess.Run(top, "--recursive").Stdout);
    }

    [Theory]
    [InlineData("squeezenet", "squeezenet1.1")]
    [InlineData("squeezenet1.2", "squeezenet1.1")]
    [InlineData("resnet", "resnet50-v1-12")]
    public void A_mistyped_model_name_gets_the_nearest_one(string typed, string meant)
    {
        var r = ClassifyProcess.Run("-m", typed, TestData.Chelsea);
        Assert.Equal(ExitCode.ModelNotFound, r.ExitCode);
        Assert.StartsWith($"classify: unknown model '{typed}' (did you mean {meant}?); available: ", r.Stderr);
    }

    [Fact]
    public void A_model_dir_that_does_not_exist_is_named()
    {
        var missing = _dir.File("imagenet");
        var r = ClassifyProcess.Run("--model_dir", missing, TestData.Chelsea);
        Assert.Equal(ExitCode.ModelNotFound, r.ExitCode);
        Assert.Equal($"classify: {missing}: no such model folder (--model_dir or CLASSIFY_MODEL_DIR), so no model '{TestData.DefaultModel}' in it\n", r.Stderr);
    }

    [Fact]
    public void A_compressed_archive_says_to_unpack_it()
    {
        var tgz = _dir.File("photos.tar.gz");
        using (var gz = new System.IO.Compression.GZipStream(File.Create(tgz), System.IO.Compression.CompressionLevel.Fastest))
            gz.Write(File.ReadAllBytes(TestData.Chelsea));
        var r = ClassifyProcess.Run(tgz);
        Assert.Equal(ExitCode.ImageUnsupported, r.ExitCode);
        Assert.Equal($"classify: {tgz}: a gzip-compressed file (.gz, .tgz), not an image: classify reads images (JPEG, PNG, BMP, GIF, WebP) and uncompressed .tar archives; unpack it, or decompress it to a .tar\n", r.Stderr);
    }

    [Fact]
    public void An_output_extension_that_names_no_format_needs_format()
    {
        var tsv = _dir.File("out.tsv");
        var r = ClassifyProcess.Run(TestData.Chelsea, "-o", tsv);
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal($"classify: --output {tsv}: .tsv names no output format (.jsonl, .json, .csv, .txt, .parquet); add --format jsonl|json|csv|text|parquet, or name the file for its format\n", r.Stderr);
        Assert.False(File.Exists(tsv));
        Assert.Equal(0, ClassifyProcess.Run(TestData.Chelsea, "-o", tsv, "-f", "csv").ExitCode);
    }

    [Fact]
    public void An_output_in_a_folder_that_takes_no_files_names_the_output_not_the_temporary_file()
    {
        var r = ClassifyProcess.Run(TestData.Chelsea, "-o", "/proc/out.csv");
        Assert.Equal(ExitCode.OutputFailed, r.ExitCode);
        Assert.StartsWith("classify: /proc/out.csv: cannot create a file in /proc: ", r.Stderr);
        Assert.DoesNotContain(".tmp", r.Stderr);
    }

    [Fact]
    public void Decode_writes_ppm_only_into_a_ppm_file()
    {
        var png = _dir.File("cat.png");
        var r = ClassifyProcess.Run("decode", TestData.Chelsea, "-o", png);
        Assert.Equal(ExitCode.Usage, r.ExitCode);
        Assert.Equal($"classify: --output {png}: decode writes a PPM image (P6); name the file .ppm (or .pnm)\n", r.Stderr);
        Assert.False(File.Exists(png));
    }

    [Fact]
    public void Decode_to_standard_output_on_a_terminal_is_refused()
    {
        var (exitCode, tty) = ClassifyProcess.RunOnTerminal($"decode {TestData.Chelsea} --output -");
        Assert.Equal(ExitCode.Usage, exitCode);
        Assert.Contains("classify: decode writes a binary PPM image, not for a terminal: redirect it (> picture.ppm) or give --output FILE.ppm", tty);
        Assert.DoesNotContain("P6", tty);
    }

    [Fact]
    public void A_list_whose_names_are_relative_to_its_own_folder_says_so()
    {
        // Issue 29: a list's relative names resolve against the working directory, as in tar -T; a user who wrote
        // the names beside the list and ran classify from elsewhere got "no such file" for every line, unsaid.
        var photos = Path.Combine(_dir.Path, "photos");
        Directory.CreateDirectory(photos);
        File.Copy(TestData.Chelsea, Path.Combine(photos, "cat.png"));
        var list = Path.Combine(photos, "todo.txt");
        File.WriteAllText(list, "cat.png\n");
        var elsewhere = Path.Combine(_dir.Path, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        var r = ClassifyProcess.Run(["--image_list", list], workingDirectory: elsewhere);
        Assert.Equal(ExitCode.ImageNotFound, r.ExitCode);
        Assert.StartsWith($"classify: warning: {list}: names in a list resolve against the working directory ({elsewhere}), not the list's folder: "
            + $"cat.png is not here but is in {photos}; cd there, or list absolute paths\n", r.Stderr);
        Assert.Contains("cat.png: no such file", r.Stderr);
        // From the list's folder the same list works, and says nothing.
        var there = ClassifyProcess.Run(["--image_list", list], workingDirectory: photos);
        Assert.Equal((0, ""), (there.ExitCode, there.Stderr));
        Assert.Contains(TestData.EgyptianCat, there.Stdout);
    }

    [Fact]
    public void Models_path_prints_a_folder_per_name_and_names_the_missing_one()
    {
        var r = ClassifyProcess.Run("models", "path", "squeezenet1.1", "nosuchmodel", "mobilenet_edgetpu_224_1.0_float");
        Assert.Equal(ExitCode.ModelNotFound, r.ExitCode);
        Assert.Equal(["squeezenet1.1", "mobilenet_edgetpu_224_1.0_float"], r.StdoutLines.Select(Path.GetFileName));
        Assert.All(r.StdoutLines, d => Assert.True(File.Exists(Path.Combine(d, "model.json")), d));
        Assert.Equal("classify: unknown model 'nosuchmodel' (classify models list)\n", r.Stderr);
    }
}
