using Classify.Backends.Onnx;
using Classify.Cli;
using Classify.Inference;
using Classify.Models;

namespace Classify.Tests;

/// <summary>
/// A batch the engine has no memory for (GPU memory, ONNX Runtime's arena under ulimit -v) ends the run with exit 18 and
/// one line that says to lower --batch_size; what finished before it is kept, and the same command resumes after it.
/// Memory that runs out midway cannot be arranged on this machine (scripts/ci/fault-test.sh runs the real arena failing
/// on the first batch, through the binary): the real model runs, and a wrapper fails on the batch it is told to, with
/// the exception the ONNX backend throws for it.
/// </summary>
public sealed class OutOfMemoryTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The real ONNX backend; its run number <paramref name="failOn"/> (1-based) finds no memory.</summary>
    private sealed class ShortOfMemory(int failOn) : IBackendFactory
    {
        private readonly OnnxBackendFactory _real = new();

        public string Name => "onnx";
        public string FileFormat => "onnx";

        public IClassifierBackend Create(ModelManifest manifest, BackendOptions options) => new Backend(_real.Create(manifest, options), failOn);

        private sealed class Backend(IClassifierBackend inner, int failOn) : IClassifierBackend
        {
            private int _runs;

            public string Name => inner.Name;
            public ComputeDevice Device => inner.Device;
            public InputSpec Input => inner.Input;
            public int FeatureWidth => inner.FeatureWidth;

            public void Run(InputBatch input, Span<float> output, CancellationToken cancel = default) => Run(input, output, default, cancel);

            public void Run(InputBatch input, Span<float> output, Span<float> features, CancellationToken cancel = default)
            {
                if (++_runs == failOn)
                    throw new BatchOutOfMemoryException("ONNX Runtime could not allocate 183 MiB", input.Count, Device,
                        new InvalidOperationException("[ErrorCode:Fail] bfc_arena.cc:360 Failed to allocate memory for requested buffer of size 192675840"));
                inner.Run(input, output, features, cancel);
            }

            public void Dispose() => inner.Dispose();
        }
    }

    private static (int Code, string Stderr) Run(string[] args, IBackendFactory onnx)
    {
        var stderr = new StringWriter();
        var code = Program.Run(args, new RunContext(TextReader.Null, new StringWriter(), stderr),
            new Dictionary<string, IBackendFactory> { ["onnx"] = onnx });
        return (code, stderr.ToString());
    }

    [Fact]
    public void A_batch_without_memory_midway_is_exit_18_and_the_same_command_resumes_after_the_finished()
    {
        string[] args = ["--image_dir", TestData.Images, "--format", "jsonl", "--output", _dir.File("out.jsonl")];
        var clean = ClassifyProcess.Run([.. args[..^1], _dir.File("clean.jsonl")]);
        Assert.Equal(0, clean.ExitCode);

        // Batches of two: the first runs, the second finds no memory.
        var (code, stderr) = Run([.. args, "--batch_size", "2"], new ShortOfMemory(failOn: 2));
        Assert.Equal(ExitCode.ResourceExhausted, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var kept = System.Text.RegularExpressions.Regex.Match(line,
            @"^classify: out of memory: ONNX Runtime could not allocate 183 MiB for a batch of 2 on cpu: lower --batch_size; .*out\.jsonl\.partial keeps the 2 finished, and a rerun with the same --output resumes after them$");
        Assert.True(kept.Success, line);
        Assert.False(File.Exists(_dir.File("out.jsonl")));

        // As the line says: a lower --batch_size, the same --output. It resumes and ends as the uninterrupted run.
        var (again, note) = Run([.. args, "--batch_size", "1"], new OnnxBackendFactory());
        Assert.Equal(0, again);
        Assert.Contains("resuming: 2 of 4 images already done", note);
        Assert.Equal(File.ReadAllText(_dir.File("clean.jsonl")), File.ReadAllText(_dir.File("out.jsonl")));
    }

    [Fact]
    public void A_first_batch_without_memory_is_exit_18_with_nothing_written()
    {
        var (code, stderr) = Run(["--image_dir", TestData.Images, "--batch_size", "4", "--output", _dir.File("out.jsonl")], new ShortOfMemory(failOn: 1));
        Assert.Equal(ExitCode.ResourceExhausted, code);
        Assert.Equal("classify: out of memory: ONNX Runtime could not allocate 183 MiB for a batch of 4 on cpu: lower --batch_size\n", stderr);
        Assert.Empty(Directory.GetFiles(_dir.Path)); // no output, and no journal that holds nothing
    }
}
