using Classify.Backends.Onnx;
using Classify.Inference;
using Classify.Models;
using Classify.Models.Zoo;

namespace Classify.Cli.Commands;

/// <summary>The model lookup every command shares: the model folders, the cache and the catalogue, with downloads
/// reported on standard error and checked by a real load before they are installed.</summary>
internal static class ModelSetup
{
    public static ModelCatalog Catalog(string? modelDir, RunContext context)
    {
        var cache = ModelCache.ForUser(context.Environment);
        var zoo = ZooCatalogue.ForUser(ModelCatalog.BundledModelDir(), context.Environment);
        return new ModelCatalog(ModelCatalog.SearchPath(modelDir, cache, context.Environment), zoo is null ? null : Puller(zoo, cache, context));
    }

    public static ModelPuller Puller(ZooCatalogue zoo, ModelCache cache, RunContext context)
    {
        void Log(string line) => context.Error.WriteLine($"classify: {line}");
        var bar = new DownloadProgress(context.Error, context.ProcessStreams && context.ErrorIsTerminal);
        return new ModelPuller(zoo, cache, new ModelDownloader(DownloadSettings.FromEnvironment(context.Environment), Log, bar.Report), Log) { Check = LoadsOnTheCpu };
    }

    /// <summary>A downloaded model must open in ONNX Runtime with the catalogue's input and output, or it is not installed.</summary>
    private static void LoadsOnTheCpu(ModelManifest manifest)
    {
        using var backend = new OnnxBackendFactory().Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu, IntraOpThreads = 1 });
    }

    /// <summary>A progress bar on a terminal (redrawn at most 10 times a second); in a log, a line every 25%.</summary>
    private sealed class DownloadProgress(TextWriter error, bool terminal)
    {
        private long _lastDraw;
        private int _lastQuarter = -1;
        private long _startBytes = -1;
        private readonly System.Diagnostics.Stopwatch _clock = new();

        public void Report(long done, long total)
        {
            if (_startBytes < 0)
            {
                _startBytes = done;
                _clock.Restart();
            }
            var fraction = total > 0 ? (double)done / total : 0;
            var seconds = _clock.Elapsed.TotalSeconds;
            var rate = seconds > 0 ? (done - _startBytes) / seconds / 1048576 : 0;
            var text = $"{fraction * 100,3:0}% {done / 1048576.0:0.0}/{total / 1048576.0:0.0} MiB {rate:0.0} MiB/s";
            if (terminal)
            {
                if (done < total && _clock.ElapsedMilliseconds - _lastDraw < 100) return;
                _lastDraw = _clock.ElapsedMilliseconds;
                var width = 30;
                var filled = (int)(fraction * width);
                error.Write($"\rclassify: [{new string('#', filled)}{new string('.', width - filled)}] {text}  ");
                if (done >= total) error.WriteLine();
            }
            else if ((int)(fraction * 4) is var quarter && quarter > _lastQuarter)
            {
                _lastQuarter = quarter;
                error.WriteLine($"classify: {text}");
            }
        }
    }
}
