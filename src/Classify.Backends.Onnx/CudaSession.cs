using System.Text.Json;
using Classify.Inference;
using Classify.Models;
using Microsoft.ML.OnnxRuntime;

namespace Classify.Backends.Onnx;

/// <summary>
/// Creates an ONNX Runtime session on the CUDA execution provider and proves that CUDA runs it. ORT falls
/// back to the CPU without a word when its CUDA provider takes no node, so "no exception" proves nothing:
/// the session is first created with session.disable_cpu_ep_fallback=1, which fails unless CUDA takes every
/// node. A model with nodes CUDA has no kernel for (a quantized one) is accepted on a split only when one
/// profiled run shows nodes placed on CUDAExecutionProvider.
/// </summary>
internal static class CudaSession
{
    public const string CudaProvider = "CUDAExecutionProvider";
    private const string FallbackRefused = "fallback to CPU EP has been explicitly disabled";

    public sealed record Result(InferenceSession? Session, ComputeDevice Device, string? Failure, string? Placement);

    public static Result TryCreate(string modelPath, ModelManifest manifest, BackendOptions options, OnnxRuntimeLog.Listener log)
    {
        using var capture = log.CaptureErrors();
        var device = ComputeDevice.Cuda(options.GpuIndex);
        try
        {
            using var strict = Options(options, strict: true, log);
            return new Result(new InferenceSession(modelPath, strict), device, null, $"all nodes on {CudaProvider}");
        }
        catch (OnnxRuntimeException e) when (e.Message.Contains(FallbackRefused, StringComparison.Ordinal))
        {
            // ORT also logs the refusal itself as an error: only another error (a provider that failed to
            // load) means CUDA is broken; the refusal alone means "some nodes need the CPU", tried next.
            if (capture.FirstError is { } loadError && !loadError.Contains(FallbackRefused, StringComparison.Ordinal))
                return new Result(null, ComputeDevice.Cpu, loadError, null);
        }
        catch (OnnxRuntimeException e)
        {
            return new Result(null, ComputeDevice.Cpu, capture.FirstError ?? e.Message, null);
        }

        InferenceSession? split = null;
        using var splitCapture = log.CaptureErrors();
        try
        {
            using var relaxed = Options(options, strict: false, log);
            relaxed.EnableProfiling = true;
            relaxed.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), $"classify-ort-{Environment.ProcessId}-");
            split = new InferenceSession(modelPath, relaxed);
            var placement = Placement.Measure(split, manifest);
            if (placement.GetValueOrDefault(CudaProvider) > 0)
                return new Result(split, device, null, Placement.Describe(placement));
            split.Dispose();
            return new Result(null, ComputeDevice.Cpu, splitCapture.FirstError
                ?? $"{CudaProvider} took no node of {Path.GetFileName(modelPath)} ({Placement.Describe(placement)})", null);
        }
        catch (OnnxRuntimeException e)
        {
            split?.Dispose();
            return new Result(null, ComputeDevice.Cpu, splitCapture.FirstError ?? e.Message, null);
        }
    }

    /// <summary>The CUDA provider's options for a run.</summary>
    internal static Dictionary<string, string> ProviderOptions(BackendOptions options) => new()
    {
        ["device_id"] = options.GpuIndex.ToString(System.Globalization.CultureInfo.InvariantCulture),
        // Per-shape cuDNN benchmarking (EXHAUSTIVE, ORT's default) costs more than a short run gains; a long run gets it.
        ["cudnn_conv_algo_search"] = options.ExpectedImages >= ExhaustiveSearchFrom ? "EXHAUSTIVE" : "HEURISTIC",
        // TF32 convolutions on Ampere and newer: the top-5 stays that of fp32 (device check), far faster.
        ["use_tf32"] = "1",
        ["prefer_nhwc"] = options.ChannelsLast ? "1" : "0",
    };

    /// <summary>Images from which a run searches all convolution algorithms: a few seconds of search per batch shape
    /// (the full batch and the last one), repaid when the run is this long (an estimate; the device check measures).</summary>
    public const int ExhaustiveSearchFrom = 10_000;

    internal static SessionOptions Options(BackendOptions options, bool strict, OnnxRuntimeLog.Listener log)
    {
        var so = OnnxBackend.BaseOptions(options, log);
        try
        {
            if (strict) so.AddSessionConfigEntry("session.disable_cpu_ep_fallback", "1");
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(ProviderOptions(options));
            so.AppendExecutionProvider_CUDA(cuda);
            return so;
        }
        catch
        {
            so.Dispose();
            throw;
        }
    }
}

/// <summary>Which execution provider ran each node, from one profiled run of zeros.</summary>
internal static class Placement
{
    public static Dictionary<string, int> Measure(InferenceSession session, ModelManifest manifest)
    {
        RunOnce(session, manifest);
        var file = session.EndProfiling();
        try
        {
            return Count(File.ReadAllText(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>One run of a single image of zeros.</summary>
    public static void RunOnce(InferenceSession session, ModelManifest manifest)
    {
        var batch = new InputBatch(manifest.Input, 1) { Count = 1 };
        using var input = batch.Floats is { } f
            ? OrtValue.CreateTensorValueFromMemory(f, batch.Shape(1))
            : OrtValue.CreateTensorValueFromMemory(batch.Bytes!, batch.Shape(1));
        using var runOptions = new RunOptions();
        using (session.Run(runOptions, [manifest.Input.Name], [input], [manifest.Output.Name]))
        {
        }
    }

    /// <summary>Distinct nodes per provider in an ORT profile (Chrome trace events; node events carry args.provider).</summary>
    public static Dictionary<string, int> Count(string profileJson)
    {
        using var doc = JsonDocument.Parse(profileJson);
        var nodes = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.TryGetProperty("cat", out var cat) && cat.GetString() == "Node"
                && e.TryGetProperty("args", out var args) && args.TryGetProperty("provider", out var provider)
                && provider.GetString() is { Length: > 0 } p && e.TryGetProperty("name", out var name))
            {
                var node = name.GetString() ?? "";
                // "conv1_kernel_time", "conv1_fence_before": one node, several events.
                var cut = node.LastIndexOf("_kernel_time", StringComparison.Ordinal);
                if (cut < 0) continue;
                if (!nodes.TryGetValue(p, out var set)) nodes[p] = set = [];
                set.Add(node[..cut]);
            }
        }
        return nodes.ToDictionary(kv => kv.Key, kv => kv.Value.Count, StringComparer.Ordinal);
    }

    public static string Describe(Dictionary<string, int> placement) => placement.Count == 0
        ? "no node events in the profile"
        : string.Join(", ", placement.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Value} node(s) on {kv.Key}"));
}
