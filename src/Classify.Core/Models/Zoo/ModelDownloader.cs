using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Classify.Output;

namespace Classify.Models.Zoo;

/// <summary>How downloads behave; from the environment for users, set directly by tests.</summary>
public sealed record DownloadSettings
{
    public const string MirrorVariable = "CLASSIFY_MODEL_MIRROR";
    public const string OfflineVariable = "CLASSIFY_OFFLINE";

    /// <summary>A site's copy serving the catalogue's paths; null: the catalogue's own base URL.</summary>
    public string? Mirror { get; init; }
    public bool Offline { get; init; }
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait for the response headers or for the next bytes of the body.</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public int Attempts { get; init; } = 4;
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromSeconds(1);

    public static DownloadSettings FromEnvironment(RunEnvironment environment)
    {
        TimeSpan? Seconds(string name) =>
            double.TryParse(environment[name], System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 ? TimeSpan.FromSeconds(s) : null;
        var defaults = new DownloadSettings();
        return new DownloadSettings
        {
            Mirror = environment.NonEmpty(MirrorVariable),
            Offline = environment.NonEmpty(OfflineVariable) is { } o && o != "0",
            ConnectTimeout = Seconds("CLASSIFY_CONNECT_TIMEOUT") ?? defaults.ConnectTimeout,
            ReadTimeout = Seconds("CLASSIFY_READ_TIMEOUT") ?? defaults.ReadTimeout,
            Attempts = int.TryParse(environment["CLASSIFY_DOWNLOAD_ATTEMPTS"], out var a) && a > 0 ? a : defaults.Attempts,
        };
    }
}

/// <summary>
/// Downloads one pinned file: streamed to a partial file while its SHA-256 is computed, resumed with an HTTP Range
/// request after a dropped connection (in the same pull, after a back-off, or in the next one), bounded by the
/// catalogue's size and by connect and read timeouts, so that a dead network fails a job in seconds instead of
/// hanging it. Proxies come from HTTPS_PROXY, HTTP_PROXY and NO_PROXY (.NET's default proxy on Linux).
/// </summary>
public sealed class ModelDownloader(DownloadSettings settings, Action<string> log, Action<long, long>? progress = null)
{
    private sealed class Permanent(string message) : Exception(message);

    public DownloadSettings Settings { get; } = settings;

    /// <summary>Downloads <paramref name="entry"/>'s file to <paramref name="partial"/> and returns it once it has the
    /// pinned size and hash. Throws <see cref="ClassifyException"/>: <see cref="ExitCode.ModelCorrupt"/> for a
    /// checksum or size mismatch (the bytes are deleted), <see cref="ExitCode.DownloadFailed"/> otherwise.</summary>
    public string Download(ZooEntry entry, string baseUrl, string partial, CancellationToken cancel)
    {
        var url = entry.Url(Settings.Mirror ?? baseUrl);
        using var handler = new SocketsHttpHandler { ConnectTimeout = Settings.ConnectTimeout, AutomaticDecompression = DecompressionMethods.None };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("classify/1 (+https://github.com/)");
        Exception? last = null;
        var backoff = Settings.FirstBackoff;
        for (var attempt = 1; attempt <= Settings.Attempts; attempt++)
        {
            try
            {
                Fetch(http, url, entry, partial, cancel).GetAwaiter().GetResult();
                return partial;
            }
            catch (Permanent e)
            {
                throw new ClassifyException(ExitCode.DownloadFailed, url.ToString(), e.Message);
            }
            catch (HttpRequestException e) when (e.InnerException is System.Net.Sockets.SocketException
                {
                    SocketErrorCode: System.Net.Sockets.SocketError.HostNotFound or System.Net.Sockets.SocketError.NoData or System.Net.Sockets.SocketError.TryAgain
                        or System.Net.Sockets.SocketError.NetworkUnreachable or System.Net.Sockets.SocketError.HostUnreachable
                })
            {
                // No name or no route: retrying in a few seconds changes nothing, and a job should not wait 7 s to learn it.
                throw new ClassifyException(ExitCode.DownloadFailed, url.ToString(), $"{url.Host}: {Reason(e)} (no network, or no route to it from here)");
            }
            catch (IOException e) when (OutputFaults.IsDiskError(e))
            {
                // The disk, not the network (a full cache, a quota), wherever it failed (a write, or the flush of the
                // partial file as it closes, which replaces the write's exception): exit 14 at once, not retried.
                throw OutputFaults.Of(e, partial);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException || (e is OperationCanceledException && !cancel.IsCancellationRequested))
            {
                last = e;
                if (attempt == Settings.Attempts) break;
                log($"{entry.Name}: {Reason(e)}; retrying in {backoff.TotalSeconds:0.#} s (attempt {attempt + 1} of {Settings.Attempts}, resuming at {Ambient(partial)})");
                cancel.WaitHandle.WaitOne(backoff);
                cancel.ThrowIfCancellationRequested();
                backoff *= 2;
            }
        }
        throw new ClassifyException(ExitCode.DownloadFailed, url.ToString(), $"download failed after {Settings.Attempts} attempts: {Reason(last!)}");
    }

    private static string Ambient(string partial) => File.Exists(partial) ? ModelCache.Describe(new FileInfo(partial).Length) : "0 B";

    private async Task Fetch(HttpClient http, Uri url, ZooEntry entry, string partial, CancellationToken cancel)
    {
        var have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (have > entry.Bytes) { File.Delete(partial); have = 0; }
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (have > 0 && have < entry.Bytes) request.Headers.Range = new RangeHeaderValue(have, null);
        using var headerDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        headerDeadline.CancelAfter(Settings.ReadTimeout);
        HttpResponseMessage? response = null;
        try
        {
            if (have < entry.Bytes) // else a previous pull got every byte and only the check is left
                response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headerDeadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer within {Settings.ReadTimeout.TotalSeconds:0.#} s");
        }
        using var _ = response;
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using var file = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        if (response is not null)
        {
            if (response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From == have)
            {
                // Resuming: the bytes already here count toward the hash.
            }
            else if (response.StatusCode == HttpStatusCode.OK || response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                have = 0; // the server ignores ranges (or the part is stale): start over
                file.SetLength(0);
                if (response.StatusCode != HttpStatusCode.OK)
                    throw new IOException("the server refused to resume the partial download; starting again");
            }
            else
            {
                var status = (int)response.StatusCode;
                var message = $"HTTP {status} {response.ReasonPhrase}" + (status == 404 ? (Settings.Mirror is null ? " (the catalogue's URL is gone; is there a newer classify?)" : $" (does the mirror {Settings.Mirror} hold this file?)") : "");
                if (status >= 500 || status == 429 || status == 408)
                    throw new HttpRequestException(message);
                throw new Permanent(message);
            }
        }
        // A server that sends another size than the catalogue pins serves another file: said at once, not retried as a
        // dropped connection.
        if (response?.Content.Headers.ContentLength is long sent && sent != entry.Bytes - have)
        {
            file.SetLength(0);
            throw new ClassifyException(ExitCode.ModelCorrupt, url.ToString(),
                $"the server sends a file of {have + sent} bytes, and the catalogue pins {entry.Bytes}: not the pinned file (a wrong mirror path, or a page instead of the file); nothing installed");
        }
        await HashPrefix(file, have, hash, cancel).ConfigureAwait(false);
        var buffer = new byte[1 << 16];
        if (response is not null)
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
            file.Position = have;
            progress?.Invoke(have, entry.Bytes);
            while (true)
            {
                using var readDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                readDeadline.CancelAfter(Settings.ReadTimeout);
                int n;
                try
                {
                    n = await body.ReadAsync(buffer, readDeadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    throw new TimeoutException($"no data for {Settings.ReadTimeout.TotalSeconds:0.#} s");
                }
                if (n == 0) break;
                if (have + n > entry.Bytes)
                {
                    file.SetLength(0);
                    throw new ClassifyException(ExitCode.ModelCorrupt, url.ToString(), $"the server sent more than the {entry.Bytes} bytes the catalogue pins; nothing installed");
                }
                await file.WriteAsync(buffer.AsMemory(0, n), cancel).ConfigureAwait(false);
                hash.AppendData(buffer, 0, n);
                have += n;
                progress?.Invoke(have, entry.Bytes);
            }
        }
        if (have < entry.Bytes)
            throw new IOException($"the connection closed after {have} of {entry.Bytes} bytes");
        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (actual != entry.Sha256)
        {
            file.SetLength(0);
            throw new ClassifyException(ExitCode.ModelCorrupt, url.ToString(),
                $"checksum mismatch: the download hashes to sha256 {actual}, the catalogue pins {entry.Sha256}; nothing installed (a wrong mirror file, or a proxy that altered it)");
        }
        await file.FlushAsync(cancel).ConfigureAwait(false);
        file.Flush(flushToDisk: true);
    }

    private static async Task HashPrefix(FileStream file, long length, IncrementalHash hash, CancellationToken cancel)
    {
        var buffer = new byte[1 << 16];
        file.Position = 0;
        for (long done = 0; done < length;)
        {
            var n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - done)), cancel).ConfigureAwait(false);
            if (n == 0) throw new IOException("the partial download shrank while it was read");
            hash.AppendData(buffer, 0, n);
            done += n;
        }
    }

    private static string Reason(Exception e) => e switch
    {
        HttpRequestException { InnerException: System.Net.Sockets.SocketException s } => s.Message,
        HttpRequestException { InnerException: { } inner } h => $"{h.Message} ({inner.Message})",
        _ => e.Message,
    };
}
