using Classify.Gpu;
using Xunit;

namespace Classify.Tests.Gpu;

/// <summary>The real dynamic linker, on libraries every Linux machine has or lacks.</summary>
public sealed class NativeLibraryLoaderTests
{
    [Fact]
    public void PresentLibrary_LoadsWithTheFileItCameFrom()
    {
        var r = NativeLibraryLoader.Instance.Load("libz.so.1");

        Assert.True(r.Loaded, r.Error);
        Assert.EndsWith("/libz.so.1", r.Path);
        Assert.True(File.Exists(r.Path));
    }

    [Fact]
    public void AbsentLibrary_FailsWithTheLinkersMessage()
    {
        var r = NativeLibraryLoader.Instance.Load("libclassify-no-such-library.so.7");

        Assert.False(r.Loaded);
        Assert.Equal("libclassify-no-such-library.so.7: cannot open shared object file: No such file or directory", r.Error);
    }

    [Fact]
    public void LibraryWithoutTheCudaDriverApi_DoesNotBind()
    {
        var libz = NativeLibraryLoader.Instance.Load("libz.so.1");

        Assert.Null(NativeLibraryLoader.Instance.BindCudaDriver(libz, out var error));
        Assert.StartsWith("missing symbol(s) cuDriverGetVersion, cuInit", error);
    }
}
