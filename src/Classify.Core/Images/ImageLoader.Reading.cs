using System.Runtime.CompilerServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace Classify.Images;

/// <summary>
/// How the loader gets an image's bytes and keeps memory bounded: files are read under the file budget, a prefetched
/// image keeps its share of the decode budget until it is used, and a large file's array is collected as soon as its
/// decode is done.
/// </summary>
public sealed partial class ImageLoader
{
    private readonly Lock _prefetchGate = new();
    private (string Path, Task<Image<Rgb24>> Image, DecodeWatch Watch, StrongBox<DecodeBudget.Lease> Lease)? _prefetched;

    /// <summary>
    /// Starts decoding <paramref name="path"/> on the thread pool; the next <see cref="Load"/> of that path takes
    /// the result. A short run uses this to decode its first image (and compile the decoder's code) while the
    /// model loads, the two largest costs of a cold start, on different cores.
    /// </summary>
    public void Prefetch(string path)
    {
        var watch = new DecodeWatch(_options.DecodeTimeout);
        var lease = new StrongBox<DecodeBudget.Lease>();
        lock (_prefetchGate) _prefetched = (path, Task.Run(() =>
            Decoded(path, CancellationToken.None, watch, bytes => DecodeCore(bytes, path, CancellationToken.None, use: null, watch, lease)!)), watch, lease);
    }

    public Image<Rgb24> Load(string path, CancellationToken cancel = default)
    {
        if (TakePrefetched(path) is not { } prefetched)
            return LoadNow(path, cancel);
        using (prefetched.Lease)
            return prefetched.Image.GetAwaiter().GetResult();
    }

    /// <summary>The prefetched decode of <paramref name="path"/>, with the budget share it holds (the caller releases
    /// it once done with the image). A prefetch of another image (the first input of a resumed run, which is replayed
    /// rather than read) is dropped, its image and its share given back.</summary>
    private (Task<Image<Rgb24>> Image, DecodeWatch Watch, Held Lease)? TakePrefetched(string path)
    {
        (string Path, Task<Image<Rgb24>> Image, DecodeWatch Watch, StrongBox<DecodeBudget.Lease> Lease) p;
        lock (_prefetchGate)
        {
            if (_prefetched is not { } taken)
                return null;
            p = taken;
            _prefetched = null;
        }
        if (p.Path == path)
            return (p.Image, p.Watch, new Held(p.Lease));
        _ = p.Image.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) t.Result.Dispose();
            new Held(p.Lease).Dispose();
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        return null;
    }

    /// <summary>A prefetched image's share of the budget, released once.</summary>
    private sealed class Held(StrongBox<DecodeBudget.Lease> lease) : IDisposable
    {
        public void Dispose()
        {
            var held = lease.Value;
            lease.Value = default;
            held.Dispose();
        }
    }

    /// <summary>A decode's lease, released when the decode ends unless <see cref="Keep"/> hands it to the prefetch.</summary>
    private sealed class KeptLease(DecodeBudget.Lease lease, StrongBox<DecodeBudget.Lease>? keep) : IDisposable
    {
        private bool _kept;

        public void Keep()
        {
            if (keep is null) return;
            keep.Value = lease;
            _kept = true;
        }

        public void Dispose()
        {
            if (!_kept) lease.Dispose();
        }
    }

    /// <summary>
    /// Decodes <paramref name="path"/>, hands the image to <paramref name="use"/> and disposes it, all while holding
    /// the image's share of the decode budget: a batch of huge photos then never holds one photo's pixels beyond the
    /// budget while the next one decodes (a 24-photo batch of 13000x13000 JPEGs peaked at 2.06 GB before).
    /// </summary>
    /// <remarks>With <paramref name="watch"/>, its clock is paused while the image waits for memory (see
    /// <see cref="DecodeWatch"/>).</remarks>
    public void LoadAndUse(string path, Action<Image<Rgb24>> use, CancellationToken cancel = default, DecodeWatch? watch = null)
    {
        if (TakePrefetched(path) is { } prefetched)
        {
            using (prefetched.Lease)
            {
                watch?.Follow(prefetched.Watch);
                using var image = prefetched.Image.GetAwaiter().GetResult();
                use(image);
            }
            return;
        }
        Decoded(path, cancel, watch, bytes => DecodeCore(bytes, path, cancel, use, watch));
    }

    /// <summary>
    /// <see cref="Load"/> for a command that decodes one image and exits (classify decode): never longer than
    /// --decode_timeout plus <see cref="DecodeWatch.Slack"/>, even when the decoder cannot be stopped; such a decode is
    /// left behind on its thread, which ends with the process.
    /// </summary>
    public Image<Rgb24> LoadBounded(string path, CancellationToken cancel)
    {
        var watch = new DecodeWatch(_options.DecodeTimeout);
        var decode = Task.Run(() => Decoded(path, cancel, watch, bytes => DecodeCore(bytes, path, cancel, use: null, watch)!), CancellationToken.None);
        try
        {
            if (!decode.Wait(_options.DecodeTimeout + DecodeWatch.Slack, cancel))
                throw DecodeErrors.TimedOut(path, watch.Format, _options.DecodeTimeout);
        }
        catch (AggregateException)
        {
            // its own exception, below
        }
        return decode.GetAwaiter().GetResult();
    }

    private Image<Rgb24> LoadNow(string path, CancellationToken cancel) =>
        Decoded(path, cancel, null, bytes => Decode(bytes, path, cancel));

    /// <summary>The file's bytes, read under a share of the file budget that <paramref name="held"/> keeps until the decode
    /// ends: files read ahead by every worker while one huge photo decodes would otherwise sit beside it outside the
    /// decode budget (a batch of hostile files of up to 256 MiB each, one per core).</summary>
    private const long LargeFileBytes = 32L << 20;

    /// <summary><paramref name="decode"/> run on the bytes of <paramref name="path"/>, read under the file budget. A large
    /// file's array is collected as soon as its decode is done: the large object heap collects rarely, and kept several
    /// 131 MB files of a hostile batch beside a huge photo's decode (2.6 GB with --threads 8; 1.7 GB now).</summary>
    private TResult Decoded<TResult>(string path, CancellationToken cancel, DecodeWatch? watch, Func<byte[], TResult> decode)
    {
        if (DecodeFile(path, cancel, watch, decode, out var result))
            GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return result;
    }

    /// <returns>Whether the file was large; its bytes are out of reach once this returns.</returns>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool DecodeFile<TResult>(string path, CancellationToken cancel, DecodeWatch? watch, Func<byte[], TResult> decode, out TResult result)
    {
        var bytes = Read(path, cancel, watch, out var held);
        using (held) result = decode(bytes);
        return bytes.Length >= LargeFileBytes;
    }

    private byte[] Read(string path, CancellationToken cancel, DecodeWatch? watch, out IDisposable? held)
    {
        DecodeBudget.Lease? lease = null;
        void Reserve(long bytes)
        {
            watch?.Pause();
            lease = _files.Acquire(bytes, cancel);
            watch?.Resume();
        }
        try
        {
            var bytes = _options.Archives?.TryRead(path, _options.MaxFileBytes, Reserve) ?? ImageFile.Read(path, _options.MaxFileBytes, Reserve);
            held = lease;
            return bytes;
        }
        catch
        {
            lease?.Dispose();
            throw;
        }
    }
}
