using Classify.Backends.Torch;

namespace Classify.Tests;

public sealed class LibTorchNativeTests
{
    // .NET's DllNotFoundException message as seen from a -p:ClassifyLibTorch=none publish without libtorch.
    private const string NoLibTorch =
        "Unable to load shared library 'LibTorchSharp' or one of its dependencies. In order to help diagnose loading problems, consider using a tool like strace. If you're using glibc, consider setting the LD_DEBUG environment variable: \n" +
        "/app/LibTorchSharp.so: cannot open shared object file: No such file or directory\n" +
        "libtorch.so: cannot open shared object file: No such file or directory\n" +
        "libLibTorchSharp.so: cannot open shared object file: No such file or directory\n" +
        "/app/LibTorchSharp: cannot open shared object file: No such file or directory\n" +
        "/app/libLibTorchSharp: cannot open shared object file: No such file or directory\n";

    [Fact]
    public void The_loader_trace_keeps_the_reason_and_drops_the_names_that_were_only_tried()
    {
        Assert.Equal("libtorch.so: cannot open shared object file: No such file or directory", LibTorchNative.LoaderTrace(NoLibTorch));
    }

    [Fact]
    public void The_loader_trace_keeps_a_glibcxx_version_error()
    {
        var message = NoLibTorch.Replace("libtorch.so: cannot open shared object file: No such file or directory",
            "/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /app/libLibTorchSharp.so)");

        Assert.Equal("/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found (required by /app/libLibTorchSharp.so)",
            LibTorchNative.LoaderTrace(message));
    }
}
