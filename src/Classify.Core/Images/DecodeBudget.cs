namespace Classify.Images;

/// <summary>
/// Memory for decoding, shared by all decode workers: a worker takes an image's estimated need before decoding
/// it and gives it back after, so the number of cores no longer multiplies the peak (two 13000x13000 photos
/// decoding at once on each of 16 cores is what a Slurm --mem limit kills). An image that needs more than the
/// whole budget waits until it can have all of it and then decodes alone.
/// </summary>
public sealed class DecodeBudget(long bytes)
{
    private readonly object _gate = new();
    private long _free = bytes;

    public long Bytes { get; } = bytes;

    public Lease Acquire(long need, CancellationToken cancel)
    {
        need = Math.Clamp(need, 0, Bytes);
        lock (_gate)
        {
            while (_free < need)
            {
                cancel.ThrowIfCancellationRequested();
                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(200));
            }
            _free -= need;
        }
        return new Lease(this, need);
    }

    private void Release(long bytes)
    {
        lock (_gate)
        {
            _free += bytes;
            Monitor.PulseAll(_gate);
        }
    }

    public readonly struct Lease(DecodeBudget budget, long bytes) : IDisposable
    {
        public void Dispose() => budget?.Release(bytes);
    }
}
