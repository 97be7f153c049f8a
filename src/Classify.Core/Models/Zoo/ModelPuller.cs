using Classify.Output;

namespace Classify.Models.Zoo;

/// <summary>
/// Gets a catalogue model into the cache: under the model's lock, unless another job installed it meanwhile, the
/// file is downloaded (resuming a partial one), verified, checked by <see cref="Check"/> (a real load by the backend,
/// so that a wrong catalogue entry fails here and not in a job) and installed in one rename.
/// </summary>
public sealed class ModelPuller(ZooCatalogue catalogue, ModelCache cache, ModelDownloader downloader, Action<string> log)
{
    public ZooCatalogue Catalogue { get; } = catalogue;
    public ModelCache Cache { get; } = cache;

    /// <summary>Run by `classify models pull` itself: its failure does not advise running `classify models pull`.</summary>
    public bool ForPullCommand { get; private init; }

    /// <summary>This puller, for `classify models pull`.</summary>
    public ModelPuller ForPull() => new(Catalogue, Cache, downloader, log) { Check = Check, ForPullCommand = true };

    /// <summary>Loads a freshly downloaded model before it is installed; throws if it cannot run.</summary>
    public Action<ModelManifest>? Check { get; init; }

    /// <summary>The command that downloads <paramref name="name"/>, for messages on machines that cannot.</summary>
    public static string PullCommand(string name) => $"classify models pull {name}";

    /// <summary>The manifest path of <paramref name="entry"/>, pulled first if it is not in the cache.</summary>
    public string Pull(ZooEntry entry, CancellationToken cancel, bool force = false)
    {
        try
        {
            return PullInto(entry, cancel, force);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The network's failures are DownloadFailed already: what is left is the cache itself (a full disk, a
            // read-only or mistyped CLASSIFY_CACHE).
            throw new ClassifyException(ExitCode.OutputFailed, Cache.Root,
                $"cannot write the model cache ({ModelCache.Variable}): {OutputFaults.Reason(e)}", e);
        }
    }

    private string PullInto(ZooEntry entry, CancellationToken cancel, bool force)
    {
        if (!force && Cache.Installed(entry) is { } ready) return ready;
        if (downloader.Settings.Offline)
            throw new ClassifyException(ExitCode.DownloadFailed, null,
                $"model '{entry.Name}' is not downloaded and {DownloadSettings.OfflineVariable}=1 forbids downloading it: run '{PullCommand(entry.Name)}' on a machine with internet (a login node) with the same cache ({Cache.Root}; {ModelCache.Variable})");
        using (Cache.Lock(entry.Name, log, cancel))
        {
            if (!force && Cache.Installed(entry) is { } installed) return installed; // another job pulled it while we waited
            var url = entry.Url(downloader.Settings.Mirror ?? Catalogue.BaseUrl);
            log($"downloading {entry.Name} ({ModelCache.Describe(entry.Bytes)}) from {url}");
            string file;
            try
            {
                file = downloader.Download(entry, Catalogue.BaseUrl, Cache.PartialFile(entry), cancel);
            }
            catch (ClassifyException e) when (e.ExitCode == ExitCode.DownloadFailed)
            {
                throw new ClassifyException(e.ExitCode, e.File, ForPullCommand
                    ? $"{e.Message}; where this machine has no internet (a compute node), pull on one that has (a login node, same {ModelCache.Variable}), or set {DownloadSettings.MirrorVariable} to a site copy"
                    : $"{e.Message}; without internet, run '{PullCommand(entry.Name)}' on a login node (same {ModelCache.Variable}), or set {DownloadSettings.MirrorVariable} to a site copy");
            }
            var manifest = Cache.Install(entry, file, Check);
            log($"installed {entry.Name} in {Path.GetDirectoryName(manifest)}");
            return manifest;
        }
    }
}
