using System.Diagnostics;
using Classify;
using Classify.Backends.Onnx;
using Classify.Backends.Torch;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Preprocessing;

// classify-bench MODEL IMAGE BACKEND DEVICE BATCHES [SECONDS] [fp16] [channels_last]
//   MODEL    a model folder (with model.json)       IMAGE  a photo, preprocessed once and copied into every slot
//   BACKEND  onnx | torch                            DEVICE auto | cuda | cpu
//   BATCHES  comma-separated batch sizes, e.g. 1,32,128,256
// Times backend.Run alone (host buffer in, scores out, as `classify` calls it; decoding excluded) and prints one
// line per batch size: backend, device, precision, batch, images/s, ms per batch.
if (args.Length < 5)
{
    Console.Error.WriteLine("usage: classify-bench MODEL IMAGE onnx|torch auto|cuda|cpu BATCHES [SECONDS] [fp16] [channels_last]");
    return ExitCode.Usage;
}
try
{
    var manifest = ModelCatalog.Load(Path.Combine(args[0], ModelManifest.FileName));
    IBackendFactory factory = args[2] == "torch" ? new TorchBackendFactory() : new OnnxBackendFactory();
    var seconds = args.Length > 5 ? double.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : 5;
    var options = new BackendOptions
    {
        Device = Enum.Parse<DeviceRequest>(args[3], ignoreCase: true),
        Half = args.Contains("fp16"),
        ChannelsLast = args.Contains("channels_last"),
        // Where the backends say which device they chose and why (a CUDA fallback must not pass unnoticed).
        Verbose = true,
        Log = line => Console.Error.WriteLine($"classify-bench: {line}"),
    };
    var precision = (options.Half ? "fp16" : "fp32") + (options.ChannelsLast ? " NHWC" : "");
    using var backend = factory.Create(manifest, options);
    using var image = new ImageLoader().Load(args[1]);
    var one = new InputBatch(backend.Input, 1) { Count = 1 };
    new Preprocessor(backend.Input).Fill(image, one, 0);

    foreach (var batchSize in args[4].Split(',').Select(int.Parse))
    {
        var batch = new InputBatch(backend.Input, batchSize) { Count = batchSize };
        for (var i = 0; i < batchSize; i++)
        {
            if (one.Floats is { } f) Array.Copy(f, 0, batch.Floats!, i * batch.ImageLength, batch.ImageLength);
            else Array.Copy(one.Bytes!, 0, batch.Bytes!, i * batch.ImageLength, batch.ImageLength);
        }
        var output = new float[batchSize * manifest.Output.Classes];
        for (var i = 0; i < 3; i++) backend.Run(batch, output); // warm-up: kernel selection, allocator
        var clock = Stopwatch.StartNew();
        var runs = 0;
        while (runs < 5 || clock.Elapsed.TotalSeconds < seconds)
        {
            backend.Run(batch, output);
            runs++;
        }
        var elapsed = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"{backend.Name}\t{backend.Device}\t{precision}\t{batchSize}\t{runs * batchSize / elapsed:F0}\t{elapsed * 1000 / runs:F2}");
    }
    return 0;
}
catch (ClassifyException e)
{
    Console.Error.WriteLine($"classify-bench: {e.OneLine}");
    return e.ExitCode;
}
