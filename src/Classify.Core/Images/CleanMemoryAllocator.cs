using System.Buffers;
using SixLabors.ImageSharp.Memory;

namespace Classify.Images;

/// <summary>
/// ImageSharp's pooled allocator, with every buffer cleared before a decoder gets it. Decoders leave the pixels
/// of a corrupt region unwritten; from a reused buffer those pixels were another image's, so a corrupt file
/// decoded differently from run to run (a resumed run was not byte-identical to an uninterrupted one). Clearing
/// costs a memset per buffer, small beside decoding into it.
/// </summary>
internal sealed class CleanMemoryAllocator(MemoryAllocator pooled, int bufferCapacityInBytes) : MemoryAllocator
{
    public override IMemoryOwner<T> Allocate<T>(int length, AllocationOptions options = AllocationOptions.None) =>
        pooled.Allocate<T>(length, options | AllocationOptions.Clean);

    public override void ReleaseRetainedResources() => pooled.ReleaseRetainedResources();

    // Large images are allocated as groups of buffers of this size (ImageSharp's own default: 4 MiB).
    protected override int GetBufferCapacityInBytes() => bufferCapacityInBytes;
}
