using Classify.Backends.Onnx;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Pipeline;

namespace Classify.Tests;

public sealed class OnnxBackendTests
{
    private static ImageResult[] Classify(string model, params string[] images)
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(model, out _);
        using var backend = OnnxBackend.Create(manifest, new BackendOptions { Device = DeviceRequest.Cpu });
        var runner = new ClassificationRunner(backend, manifest, Labels.Load(manifest), new ImageLoader(), topK: 5, batchSize: 4);
        var results = new List<ImageResult>();
        runner.Run(images, results.Add);
        return results.ToArray();
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void Chelsea_is_an_Egyptian_cat(string model)
    {
        var top = Classify(model, TestData.Chelsea)[0].Predictions!;
        Assert.Equal(TestData.EgyptianCat, top[0].Label);
        Assert.Equal(TestData.EgyptianCatClass, top[0].Class);
        Assert.InRange(top[0].Score, 0.7f, 1f);
    }

    [Theory]
    [InlineData(TestData.SqueezeNet)]
    [InlineData(TestData.MobileNet)]
    [InlineData(TestData.EdgeTpuQuant)]
    [InlineData(TestData.EdgeTpuFloat)]
    public void Coffee_is_an_espresso(string model)
    {
        var top = Classify(model, TestData.Coffee)[0].Predictions!;
        Assert.Equal(TestData.Espresso, top[0].Label);
        Assert.InRange(top[0].Score, 0.9f, 1f);
    }

    [Theory]
    // Measured: the Native AOT build, --batch_size 120 under ulimit -v 2000000 (scripts/ci/fault-test.sh runs it).
    [InlineData("[ErrorCode:Fail] Non-zero status code returned while running Conv node. Name:'op0_conv_2d_clip_nchwc' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*) Failed to allocate memory for requested buffer of size 192675840",
        "ONNX Runtime could not allocate 183 MiB")]
    // ONNX Runtime's CUDA provider (CUDA_CALL's wording, onnxruntime/core/providers/cuda/cuda_call.cc); no GPU here.
    [InlineData("[ErrorCode:Fail] Non-zero status code returned while running Conv node. Status Message: CUDA error cudaErrorMemoryAllocation:out of memory",
        "ONNX Runtime could not allocate memory")]
    [InlineData("[ErrorCode:Fail] Non-zero status code returned while running Conv node. Status Message: CUDNN failure 4: CUDNN_STATUS_ALLOC_FAILED",
        "ONNX Runtime could not allocate memory")]
    [InlineData("[ErrorCode:RuntimeException] CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR", null)]
    [InlineData("[ErrorCode:InvalidArgument] Got invalid dimensions for input: data for the following indices index: 1 Got: 4 Expected: 3", null)]
    public void An_allocation_failure_is_told_from_other_failures(string message, string? expected)
    {
        Assert.Equal(expected, OnnxBackend.AllocationFailure(message));
    }
}
