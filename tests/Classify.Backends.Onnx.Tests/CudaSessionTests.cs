using Classify.Backends.Onnx;
using Classify.Models;
using Microsoft.ML.OnnxRuntime;

namespace Classify.Tests;

/// <summary>The placement proof, on a real profiled ONNX Runtime session (CPU here: no GPU in CI).</summary>
public sealed class CudaSessionTests
{
    [Fact]
    public void Profile_of_a_cpu_session_shows_every_node_on_the_cpu_provider()
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);
        using var options = new SessionOptions
        {
            EnableProfiling = true,
            ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), $"classify-test-{Guid.NewGuid():N}-"),
        };
        using var session = new InferenceSession(ModelCatalog.VerifiedFile(manifest, "onnx"), options);

        var placement = Placement.Measure(session, manifest);

        Assert.Equal(["CPUExecutionProvider"], placement.Keys);
        Assert.InRange(placement["CPUExecutionProvider"], 20, 200);
    }

    [Fact]
    public void Profile_events_are_counted_per_node_and_provider()
    {
        const string profile = """
            [
            {"cat" : "Session","pid" :1,"tid" :1,"dur" :5,"ts" :1,"ph" : "X","name" :"model_run","args" : {}},
            {"cat" : "Node","pid" :1,"tid" :1,"dur" :1,"ts" :2,"ph" : "X","name" :"conv1_fence_before","args" : {"op_name" : "Conv"}},
            {"cat" : "Node","pid" :1,"tid" :1,"dur" :9,"ts" :3,"ph" : "X","name" :"conv1_kernel_time","args" : {"op_name" : "Conv","provider" : "CUDAExecutionProvider"}},
            {"cat" : "Node","pid" :1,"tid" :1,"dur" :9,"ts" :4,"ph" : "X","name" :"conv2_kernel_time","args" : {"op_name" : "Conv","provider" : "CUDAExecutionProvider"}},
            {"cat" : "Node","pid" :1,"tid" :1,"dur" :2,"ts" :5,"ph" : "X","name" :"q_kernel_time","args" : {"op_name" : "QLinearConv","provider" : "CPUExecutionProvider"}}
            ]
            """;

        var placement = Placement.Count(profile);

        Assert.Equal(2, placement["CUDAExecutionProvider"]);
        Assert.Equal(1, placement["CPUExecutionProvider"]);
        Assert.Equal("2 node(s) on CUDAExecutionProvider, 1 node(s) on CPUExecutionProvider", Placement.Describe(placement));
    }
}

/// <summary>ORT's real CUDA provider on a machine without CUDA: the failure must come back verbatim, not as a silent CPU session.</summary>
public sealed class CudaSessionWithoutCudaTests
{
    [NoCudaFact]
    public void Cuda_session_without_cuda_returns_onnx_runtimes_own_message()
    {
        var manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);

        var (device, placement, failure) = OnnxBackend.CheckCuda(manifest, 0);

        Assert.Equal(Classify.Inference.ComputeDevice.Cpu, device);
        Assert.Null(placement);
        Assert.Contains("Failed to load library", failure);
        Assert.Contains("libonnxruntime_providers_cuda.so with error: ", failure);
    }
}

internal sealed class NoCudaFactAttribute : FactAttribute
{
    public NoCudaFactAttribute()
    {
        if (File.Exists("/dev/nvidiactl")) Skip = "this machine has an NVIDIA driver: the test needs one without CUDA";
    }
}
