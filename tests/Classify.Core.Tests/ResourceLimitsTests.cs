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

    [Fact]
    public void OnnxRuntimesArenaFailingIsOutOfMemory()
    {
        // Measured: the Native AOT build, --batch_size 120, ulimit -v 2000000 (scripts/ci/fault-test.sh).
        var ort = new InvalidOperationException("[ErrorCode:Fail] Non-zero status code returned while running Conv node. Name:'op0_conv_2d_clip_nchwc' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Failed to allocate memory for requested buffer of size 192675840");
        Assert.True(ResourceLimits.IsOutOfMemory(ort));
        Assert.False(ResourceLimits.IsOutOfMemory(new InvalidOperationException("[ErrorCode:Fail] Non-zero status code returned while running Conv node. Status Message: Invalid input shape")));
    }

    [Fact]
    public void ABatchThatDidNotFitSaysWhatToLower()
    {
        var e = new Classify.Inference.BatchOutOfMemoryException("ONNX Runtime could not allocate 183 MiB", 120, Classify.Inference.ComputeDevice.Cpu,
            new InvalidOperationException("Failed to allocate memory for requested buffer of size 192675840"));
        var error = ResourceLimits.OutOfMemory(new AggregateException(e));
        Assert.Equal(ExitCode.ResourceExhausted, error.ExitCode);
        // No ulimit -v in the test process, so nothing about the address space.
        Assert.Equal("out of memory: ONNX Runtime could not allocate 183 MiB for a batch of 120 on cpu: lower --batch_size", error.Message);
    }
}
