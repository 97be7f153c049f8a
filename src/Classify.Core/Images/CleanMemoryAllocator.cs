using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SixLabors.ImageSharp.Memory;

namespace Classify.Images;

/// <summary>
/// ImageSharp's memory, zeroed and unpooled. Decoders leave the pixels of a corrupt region unwritten; from
/// ImageSharp's pools those pixels were another image's, so a corrupt file decoded differently from run to run (a
/// resumed run was not byte-identical to an uninterrupted one), and its default pool kept up to an eighth of the
/// machine's memory after a batch of large photos. Here small buffers are new managed arrays and large ones are
/// anonymous mappings, both zero-filled by the system for free and given back to it the moment they are disposed.
/// (Wrapping ImageSharp's own allocator to force AllocationOptions.Clean is not possible: its image buffers must all
/// come from one pool kind, and a mixed group fails with an InvalidCastException on large progressive JPEGs.)
/// One exception, for speed (issue 30): the pixels of an ImageNet-sized photo (64 KiB to 1 MiB) come from a few
/// 1 MiB arrays kept for reuse and cleared before each use, so they are as zero as a new array's; new ones each
/// faulted their pages in afresh (15% of the process's CPU on 300 such JPEGs). At most <see cref="Kept"/> per pixel
/// type are kept, a few MiB.
/// </summary>
internal sealed partial class CleanMemoryAllocator(long singleBufferLimitBytes) : MemoryAllocator
{
    private const int MappedFromBytes = 1 << 20;
    private const int PooledFromBytes = 64 << 10;
    private static readonly int Kept = 2 * Environment.ProcessorCount + 2;
    private readonly ConcurrentDictionary<Type, ConcurrentBag<Array>> _free = new();

    public override IMemoryOwner<T> Allocate<T>(int length, AllocationOptions options = AllocationOptions.None)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var bytes = (long)length * Unsafe.SizeOf<T>();
        if (bytes > singleBufferLimitBytes)
            throw new InvalidMemoryOperationException($"Requested allocation: {bytes} bytes is over the limit of {singleBufferLimitBytes} bytes.");
        if (bytes >= MappedFromBytes)
            return new MappedBuffer<T>(length, bytes);
        if (bytes < PooledFromBytes)
            return new ArrayOwner<T>(new T[length]);
        var free = _free.GetOrAdd(typeof(T), static _ => new ConcurrentBag<Array>());
        if (free.TryTake(out var kept))
        {
            var array = (T[])kept;
            Array.Clear(array, 0, length);
            return new PooledOwner<T>(array, length, free);
        }
        return new PooledOwner<T>(new T[MappedFromBytes / Unsafe.SizeOf<T>()], length, free);
    }

    /// <summary>A kept array, handed back on Dispose (once) unless enough are kept already.</summary>
    private sealed class PooledOwner<T>(T[] array, int length, ConcurrentBag<Array> free) : IMemoryOwner<T>
    {
        private int _disposed;
        public Memory<T> Memory => new(array, 0, length);

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0 && free.Count < Kept)
                free.Add(array);
        }
    }

    // Large images are allocated as groups of buffers of this size, as ImageSharp's own allocator does.
    protected override int GetBufferCapacityInBytes() => 4 << 20;

    private sealed class ArrayOwner<T>(T[] array) : IMemoryOwner<T>
    {
        public Memory<T> Memory => array;
        public void Dispose() { }
    }

    private sealed unsafe class MappedBuffer<T> : MemoryManager<T> where T : struct
    {
        private readonly int _length;
        private readonly nuint _bytes;
        private void* _address;

        public MappedBuffer(int length, long bytes)
        {
            _length = length;
            _bytes = (nuint)bytes;
            _address = Mmap(null, _bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            // Within the single-buffer limit, a mapping the system refuses is the machine out of memory (ulimit -v, a
            // cgroup), not an image too large: the run stops (exit 18) instead of failing every image after it.
            if (_address == (void*)-1)
                throw new OutOfMemoryException($"Cannot map {bytes} bytes: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        public override Span<T> GetSpan()
        {
            ObjectDisposedException.ThrowIf(_address is null, this);
            return new Span<T>(_address, _length);
        }

        public override MemoryHandle Pin(int elementIndex = 0) =>
            new((byte*)_address + (long)elementIndex * Unsafe.SizeOf<T>(), default, this);

        public override void Unpin() { }

        protected override void Dispose(bool disposing)
        {
            if (_address is not null)
            {
                _ = Munmap(_address, _bytes);
                _address = null;
            }
        }
    }

    private const int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static unsafe partial void* Mmap(void* address, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static unsafe partial int Munmap(void* address, nuint length);
}
