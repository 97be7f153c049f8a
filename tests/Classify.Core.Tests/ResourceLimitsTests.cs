namespace Classify.Tests;

/// <summary>Memory that runs out in native code reaches classify as another exception type; each is exit 18. The
/// messages are the ones measured under ulimit -v with the Native AOT build (scripts/ci/fault-test.sh runs them).</summary>
public sealed class ResourceLimitsTests
{
    [Fact]
    public void OnnxRuntimesBadAllocInsideAModelErrorIsOutOfMemory()
    {
        var ort = new InvalidOperationException("[ErrorCode:Fail] Load model from /m/model.onnx failed:std::bad_alloc");
        var wrapped = new ClassifyException(ExitCode.ModelCorrupt, "/m/model.onnx", "ONNX Runtime cannot load the model", ort);
        Assert.True(ResourceLimits.IsOutOfMemory(wrapped));
    }

    [Fact]
    public void ALibraryThatCannotBeMappedIsOutOfMemory()
    {
        var dll = new DllNotFoundException("Unable to load shared library 'onnxruntime' or one of its dependencies.\n/p/libonnxruntime.so: failed to map segment from shared object");
        Assert.True(ResourceLimits.IsOutOfMemory(new TypeInitializationException("Microsoft.ML.OnnxRuntime.NativeMethods", dll)));
    }

    [Fact]
    public void AMissingLibraryOrABrokenModelIsNot()
    {
        Assert.False(ResourceLimits.IsOutOfMemory(new DllNotFoundException("/p/libonnxruntime.so: cannot open shared object file: No such file or directory")));
        Assert.False(ResourceLimits.IsOutOfMemory(new ClassifyException(ExitCode.ModelCorrupt, "/m/model.onnx", "ONNX Runtime cannot load the model",
            new InvalidOperationException("[ErrorCode:InvalidProtobuf] Load model from /m/model.onnx failed:Protobuf parsing failed."))));
    }

    [Fact]
    public void WithoutAnAddressSpaceLimitThereIsNothingToSay()
    {
        // The test process runs without ulimit -v (scripts/ci/fault-test.sh runs the limited ones through the binary).
        Assert.Null(ResourceLimits.CheckAddressSpace());
    }
}
