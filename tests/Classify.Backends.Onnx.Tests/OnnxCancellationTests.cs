using System.Diagnostics;
using Classify.Backends.Onnx;
using Classify.Inference;
using Classify.Models;
using Microsoft.ML.OnnxRuntime;

namespace Classify.Tests;

/// <summary>
/// A cancelled token ends ONNX Runtime's run through <c>RunOptions.Terminate</c>: ONNX Runtime itself refuses to go
/// on (its exception is the cause of the <see cref="OperationCanceledException"/>, which a check of the token before
/// the call would not have), a run in progress stops early, and the backend's next run is not terminated.
/// </summary>
public sealed class OnnxCancellationTests
{
    private static readonly ModelManifest Manifest = new ModelCatalog(TestData.Models).Resolve(TestData.SqueezeNet, out _);

    private static (OnnxBackend Backend, InputBatch Batch, float[] Output) Setup(int images)
    {
        var backend = OnnxBackend.Create(Manifest, new BackendOptions { Device = DeviceRequest.Cpu });
        var batch = new InputBatch(backend.Input, images) { Count = images }; // zeros: a valid input
        return (backend, batch, new float[images * Manifest.Output.Classes]);
    }

    [Fact]
    public void A_token_cancelled_before_the_call_is_refused_by_onnx_runtime_and_the_next_run_is_not()
    {
        var (backend, batch, output) = Setup(2);
        using var _ = backend;
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();

        var e = Assert.Throws<OperationCanceledException>(() => backend.Run(batch, output, cancel.Token));

        Assert.Equal(cancel.Token, e.CancellationToken);
        Assert.IsType<OnnxRuntimeException>(e.InnerException); // ONNX Runtime stopped on Terminate
        backend.Run(batch, output, CancellationToken.None);
        Assert.All(Enumerable.Range(0, 2), i => Assert.Equal(1f, output.AsSpan(i * 1000, 1000).ToArray().Sum(), 1e-3f));
    }

    [Fact]
    public void A_cancel_during_a_long_run_ends_it_early()
    {
        // Timing on a shared machine varies: a cancel that lands after the last node lets the run finish, which is no
        // fault of Terminate. So the cancel comes ever earlier (a tenth of a whole run, then a 20th, ...), and the test
        // fails only when no attempt ends early with ONNX Runtime's own refusal.
        var (backend, batch, output) = Setup(128);
        using var _ = backend;
        backend.Run(batch, output); // warm-up
        var full = Stopwatch.StartNew();
        backend.Run(batch, output);
        full.Stop();
        var tries = new List<string>();
        for (var divisor = 10; divisor <= 160; divisor *= 2)
        {
            using var cancel = new CancellationTokenSource();
            var cancelled = Stopwatch.StartNew();
            // From a thread of its own: CancelAfter's timer callback waits for a pool thread, which other tests running
            // in parallel may hold for longer than the whole run.
            var delay = full.Elapsed / divisor;
            var canceller = new Thread(() => { Thread.Sleep(delay); cancel.Cancel(); }) { IsBackground = true };
            canceller.Start();
            try
            {
                backend.Run(batch, output, cancel.Token);
                tries.Add($"1/{divisor}: finished in {cancelled.Elapsed}");
                canceller.Join();
            }
            catch (OperationCanceledException e) when (e.InnerException is null)
            {
                canceller.Join();
                tries.Add($"1/{divisor}: the cancel came as the run ended"); // the token checked after the run
            }
            catch (OperationCanceledException e)
            {
                cancelled.Stop();
                Assert.IsType<OnnxRuntimeException>(e.InnerException);
                Assert.True(cancelled.Elapsed < full.Elapsed * 0.75, $"cancelled after {full.Elapsed / divisor}, the run took {cancelled.Elapsed} (a whole one: {full.Elapsed})");
                backend.Run(batch, output); // not terminated
                return;
            }
        }
        Assert.Fail($"no cancel ended a run early (a whole run: {full.Elapsed}): {string.Join("; ", tries)}");
    }
}
