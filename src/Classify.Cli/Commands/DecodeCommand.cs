using System.Text;
using Classify.Images;
using Classify.Models;
using Classify.Preprocessing;
using Classify.Output;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Cli.Commands;

/// <summary>classify decode: the decoded, oriented pixels, through the same loader and limits as a classification,
/// so that a test (or a user in doubt) can compare them with another decoder's.</summary>
internal sealed class DecodeCommand(RunContext context)
{
    public int Run(DecodeOptions o, CancellationToken cancel)
    {
        // What is written is a binary PPM (P6): not into a file named for another format, nor onto a terminal.
        if (o.Output == "-" && context.ProcessStreams && context.OutIsTerminal)
            throw new ClassifyException(ExitCode.Usage, null, "decode writes a binary PPM image, not for a terminal: redirect it (> picture.ppm) or give --output FILE.ppm");
        if (o.Output != "-" && !AtomicFile.IsSpecialFile(o.Output) && Path.GetExtension(o.Output).ToLowerInvariant() is not (".ppm" or ".pnm"))
            throw new ClassifyException(ExitCode.Usage, null, $"--output {o.Output}: decode writes a PPM image (P6); name the file .ppm (or .pnm)");
        if (o.FullDecode && o.Model is null)
            throw new ClassifyException(ExitCode.Usage, null, "--full_decode applies with --model (without it decode writes the full-size picture)");
        var limits = ImageLimits.LoaderOptions(o);
        // The model is resolved first: a wrong name is a usage error before any decoding.
        var input = o.Model is null ? null : ModelSetup.Catalog(o.ModelDir, context).Resolve(o.Model, out _, cancel).Input;
        // What classify decodes for this model: a large JPEG scaled in the DCT unless --full_decode.
        var loader = new ImageLoader(input is null ? limits : ImageLimits.ForModel(limits, input, o.FullDecode));
        using var decoded = loader.LoadBounded(o.Image, cancel);
        using var resized = input is null ? null : ModelPicture(decoded, input);
        var image = resized ?? decoded;
        if (o.Output == "-")
        {
            using var stdout = OutputFaults.OpenStandardOutput();
            WritePpm(image, stdout);
            return ExitCode.Success;
        }
        using var file = new AtomicFile(o.Output);
        WritePpm(image, file.Stream);
        file.Commit();
        context.Error.WriteLine($"classify: {o.Image}: {image.Width}x{image.Height} written to {o.Output}");
        return ExitCode.Success;
    }

    private static Image<Rgb24> ModelPicture(Image<Rgb24> decoded, InputSpec input)
    {
        var pixels = new byte[3 * input.Width * input.Height];
        new Preprocessor(input).Resize(decoded, pixels);
        return Image.LoadPixelData<Rgb24>(pixels, input.Width, input.Height);
    }

    private static void WritePpm(Image<Rgb24> image, Stream stream)
    {
        stream.Write(Encoding.ASCII.GetBytes($"P6\n{image.Width} {image.Height}\n255\n"));
        var row = new byte[image.Width * 3];
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.GetRowSpan(y)).CopyTo(row);
                stream.Write(row);
            }
        });
        stream.Flush();
    }
}
