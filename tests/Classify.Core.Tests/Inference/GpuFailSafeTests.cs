using Classify.Backends.Onnx;
using Classify.Images;
using Classify.Inference;
using Classify.Models;
using Classify.Pipeline;

namespace Classify.Tests.Inference;

/// <summary>
/// FailSafeBackend's promises, without a GPU: a fake "cuda:0" backend (the real model on ONNX Runtime's CPU provider,
/// under a GPU's name) that fails on cue — on its first run, on batch k, with wrong scores, with wrong preprocessing —
/// through the real pipeline on the real photos. Every test compares with a plain CPU run: a fallback that did not
/// happen lets the fake's failure or wrong numbers through, and the test fails.
/// </summary>
public sealed class GpuFailSafeTests
{
    private static readonly ModelManifest Manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);

    private static readonly string[] Photos =
        [TestData.Chelsea, TestData.Coffee, TestData.Rocket, TestData.Astronaut, TestData.Coffee, TestData.Chelsea, TestData.Rocket];

    /// <summary>What the fake GPU does wrong.</summary>
    private sealed record Faults
    {
        public bool FailFirstRun { get; init; }
        /// <summary>The image batch (1-based, after the probe) whose run throws, or 0.</summary>
        public int FailOnBatch { get; init; }
        public float ScoreError { get; init; }
        public bool WrongPreprocessing { get; init; }
        /// <summary>The image batch whose run finds no device memory left (CUDA's allocator), or 0.</summary>
        public int OutOfMemoryOnBatch { get; init; }
    }

    /// <summary>The real model on the CPU provider, named "cuda:0", preprocessing "on the device" (the preprocessing graph)
    /// unless told not to, as on CUDA.</summary>
    private sealed class FakeGpu(OnnxBackend inner, Faults faults) : IClassifierBackend, IPreprocessingProbe
    {
        private int _runs;

        public int Runs => _runs;
        public string Name => "onnx";
        public ComputeDevice Device => ComputeDevice.Cuda(0);
        public InputSpec Input => inner.Input;

        public void Run(InputBatch input, Span<float> output, CancellationToken cancel = default)
        {
            var run = ++_runs; // 1: FailSafeBackend's probe; 2, 3, ...: the images' batches
            if (faults.FailFirstRun || (faults.FailOnBatch > 0 && run == faults.FailOnBatch + 1))
                throw new InvalidOperationException("[ErrorCode:RuntimeException] CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR\nmore native text");
            if (faults.OutOfMemoryOnBatch > 0 && run == faults.OutOfMemoryOnBatch + 1)
                throw new BatchOutOfMemoryException("ONNX Runtime could not allocate 784 MiB", input.Count, Device,
                    new InvalidOperationException("[ErrorCode:Fail] bfc_arena.cc:360 Failed to allocate memory for requested buffer of size 822083584"));
            inner.Run(input, output, cancel);
            for (var i = 0; i < input.Count * Manifest.Output.Classes; i++)
                output[i] += faults.ScoreError;
        }

        public void Preprocess(InputBatch pixels, Span<float> tensor)
        {
            inner.Preprocess(pixels, tensor);
            if (faults.WrongPreprocessing)
                tensor[12345] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(tensor[12345]) + 1);
        }

        public void Dispose() => inner.Dispose();
    }

    private sealed class Setup(Faults faults)
    {
        public List<string> Log { get; } = [];
        public List<FakeGpu> Gpus { get; } = [];

        public IClassifierBackend Create(BackendOptions options)
        {
            if (options.Device == DeviceRequest.Cpu)
                return OnnxBackend.Create(Manifest, options);
            var gpu = new FakeGpu(OnnxBackend.Create(Manifest, options with { Device = DeviceRequest.Cpu, DevicePreprocessing = options.DevicePreprocessing ?? true }), faults);
            Gpus.Add(gpu);
            return gpu;
        }

        public BackendOptions Options(bool required = false) => new()
        {
            Device = required ? DeviceRequest.Cuda : DeviceRequest.Auto,
            Log = Log.Add,
        };
    }

    private static List<ImageResult> Classify(IClassifierBackend backend, int batchSize = 2)
    {
        var runner = new ClassificationRunner(backend, Manifest, Labels.Load(Manifest), new ImageLoader(), topK: 5, batchSize, decodeThreads: 2);
        var results = new List<ImageResult>();
        runner.Run(Photos, results.Add);
        return results;
    }

    private static readonly Lazy<List<ImageResult>> OnCpu = new(() =>
    {
        using var cpu = OnnxBackend.Create(Manifest, new BackendOptions { Device = DeviceRequest.Cpu });
        return Classify(cpu);
    });

    private static void AssertSameAsCpu(IReadOnlyList<ImageResult> results)
    {
        Assert.Equal(OnCpu.Value.Select(r => r.File), results.Select(r => r.File));
        foreach (var (cpu, got) in OnCpu.Value.Zip(results))
        {
            Assert.Null(got.Error);
            Assert.Equal(cpu.Predictions!.Select(p => p.Class), got.Predictions!.Select(p => p.Class));
            foreach (var (a, b) in cpu.Predictions!.Zip(got.Predictions!))
                Assert.Equal(a.Score, b.Score, 1e-6f);
        }
    }

    [Fact]
    public void A_healthy_gpu_is_kept_and_gives_the_cpus_results()
    {
        var setup = new Setup(new Faults());
        using var backend = FailSafeBackend.Create(setup.Create, Manifest, setup.Options());
        Assert.Equal(ComputeDevice.Cuda(0), backend.Device);
        Assert.NotEqual(Manifest.Input.ElementType, backend.Input.ElementType); // preprocessing stays on the device
        AssertSameAsCpu(Classify(backend));
        Assert.Empty(setup.Log);
        Assert.Null(((FailSafeBackend)backend).PlacementSummary);
    }

    [Fact]
    public void A_gpu_whose_first_run_fails_is_a_diagnosis_and_the_cpu_runs()
    {
        var setup = new Setup(new Faults { FailFirstRun = true });
        using var backend = FailSafeBackend.Create(setup.Create, Manifest, setup.Options());
        Assert.Equal(ComputeDevice.Cpu, backend.Device);
        Assert.Equal(["warning: GPU cuda:0 is not usable: the first run on cuda:0 failed: [ErrorCode:RuntimeException] CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR. Running on the CPU."], setup.Log);
        AssertSameAsCpu(Classify(backend));
    }

    [Fact]
    public void A_required_gpu_whose_first_run_fails_is_exit_20_before_any_image()
    {
        var setup = new Setup(new Faults { FailFirstRun = true });
        var e = Assert.Throws<ClassifyException>(() => FailSafeBackend.Create(setup.Create, Manifest, setup.Options(required: true)));
        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
        Assert.Equal("GPU cuda:0 is not usable: the first run on cuda:0 failed: [ErrorCode:RuntimeException] CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Scores_that_differ_from_the_cpus_send_the_run_to_the_cpu_or_stop_a_required_one(bool required)
    {
        // 0.1 on every probability: the top-1s stay, far over the 2e-2 tolerance.
        var setup = new Setup(new Faults { ScoreError = 0.1f });
        if (required)
        {
            var e = Assert.Throws<ClassifyException>(() => FailSafeBackend.Create(setup.Create, Manifest, setup.Options(required: true)));
            Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
            Assert.Contains("its scores differ from the CPU's by up to 0.1 on a test batch (tolerance 0.02)", e.Message);
            return;
        }
        using var backend = FailSafeBackend.Create(setup.Create, Manifest, setup.Options());
        Assert.Equal(ComputeDevice.Cpu, backend.Device);
        Assert.Contains("its scores differ from the CPU's by up to 0.1", Assert.Single(setup.Log));
        AssertSameAsCpu(Classify(backend));
    }

    [Fact]
    public void Preprocessing_that_differs_by_one_bit_moves_to_the_cpu_and_the_gpu_stays()
    {
        var setup = new Setup(new Faults { WrongPreprocessing = true });
        using var backend = FailSafeBackend.Create(setup.Create, Manifest, setup.Options());
        Assert.Equal(ComputeDevice.Cuda(0), backend.Device);
        Assert.Equal(Manifest.Input.ElementType, backend.Input.ElementType); // floats: preprocessing on the CPU now
        Assert.StartsWith("warning: preprocessing on cuda:0 differs from the CPU's (element 12345: ", Assert.Single(setup.Log));
        Assert.Equal(2, setup.Gpus.Count);
        AssertSameAsCpu(Classify(backend));
    }

    [Fact]
    public void A_batch_the_gpu_fails_on_mid_run_is_run_again_on_the_cpu_with_the_rest()
    {
        var setup = new Setup(new Faults { FailOnBatch = 2 });
        using var backend = FailSafeBackend.Create(setup.Create, Manifest, setup.Options());
        var results = Classify(backend, batchSize: 2);
        // Every image once, in order, with the CPU's answer: nothing lost, nothing twice.
        AssertSameAsCpu(results);
        Assert.Equal(ComputeDevice.Cpu, backend.Device);
        Assert.Equal(["warning: GPU cuda:0 failed on images 3-4 ([ErrorCode:RuntimeException] CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR); they and the rest of the run go to the CPU"], setup.Log);
        Assert.Equal("images 1-2 on cuda:0, images 3-7 on cpu", ((FailSafeBackend)backend).PlacementSummary);
        Assert.Equal(3, setup.Gpus[0].Runs); // the probe, batch 1, batch 2 (failed); none after
        // Each result says where it ran when that is not where the run started.
        Assert.Equal([null, null, "cpu", "cpu", "cpu", "cpu", "cpu"], results.Select(r => r.Device));
    }

    [Fact]
    public void A_results_device_goes_through_jsonl_and_back()
    {
        var moved = ImageResult.Ok("a.png", [new Prediction("tabby, tabby cat", 281, 0.5f, "n02123045")]) with { Device = "cpu" };
        foreach (var result in (ImageResult[])[moved, moved with { Device = null }])
        {
            using var buffer = new MemoryStream();
            using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
                global::Classify.Output.ResultJson.Write(json, result, exactScores: true);
            var line = buffer.ToArray();
            Assert.Equal(result.Device is not null, System.Text.Encoding.UTF8.GetString(line).Contains("\"device\":\"cpu\"", StringComparison.Ordinal));
            Assert.Equal(result.Device, global::Classify.Output.ResultJson.TryParse(line)!.Device);
        }
    }

    [Fact]
    public void A_required_gpu_that_fails_mid_run_stops_with_exit_20_after_the_results_before_it()
    {
        var setup = new Setup(new Faults { FailOnBatch = 3 });
        using var backend = FailSafeBackend.Create(setup.Create, Manifest, setup.Options(required: true));
        var runner = new ClassificationRunner(backend, Manifest, Labels.Load(Manifest), new ImageLoader(), topK: 5, batchSize: 2, decodeThreads: 2);
        var results = new List<ImageResult>();
        var e = Assert.Throws<ClassifyException>(() => runner.Run(Photos, results.Add));
        Assert.Equal(ExitCode.GpuUnavailable, e.ExitCode);
        Assert.StartsWith("GPU cuda:0 failed on images 5-6 ([ErrorCode:RuntimeException] CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR); a GPU is required", e.Message);
        // The two batches before it were handed on, once each, with the CPU's answers; nothing after.
        Assert.Equal(OnCpu.Value.Take(4).Select(r => r.File), results.Select(r => r.File));
        Assert.All(results.Zip(OnCpu.Value), p => Assert.Equal(p.Second.Predictions![0].Class, p.First.Predictions![0].Class));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_batch_the_gpu_has_no_memory_for_stops_the_run_instead_of_moving_it_to_the_cpu(bool required)
    {
        // Not a broken device but a --batch_size too large for it: the CPU would take the rest a hundred times slower.
        var setup = new Setup(new Faults { OutOfMemoryOnBatch = 2 });
        using var backend = FailSafeBackend.Create(setup.Create, Manifest, setup.Options(required));
        var runner = new ClassificationRunner(backend, Manifest, Labels.Load(Manifest), new ImageLoader(), topK: 5, batchSize: 2, decodeThreads: 2);
        var results = new List<ImageResult>();
        var e = Assert.ThrowsAny<Exception>(() => runner.Run(Photos, results.Add));
        Assert.True(ResourceLimits.IsOutOfMemory(e));
        var line = ResourceLimits.OutOfMemory(e);
        Assert.Equal(ExitCode.ResourceExhausted, line.ExitCode);
        Assert.Equal("out of memory: ONNX Runtime could not allocate 784 MiB for a batch of 2 on cuda:0: lower --batch_size", line.Message);
        Assert.Empty(setup.Log); // no "the rest of the run goes to the CPU"
        Assert.Equal(ComputeDevice.Cuda(0), backend.Device);
        Assert.Equal(OnCpu.Value.Take(2).Select(r => r.File), results.Select(r => r.File)); // the batch before it, handed on
    }
}
