using Classify.Backends.Onnx;
using Classify.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Classify.Tests;

/// <summary>Issue 27: ORT's log is scoped to the backend whose session wrote it; no backend's sink or verbosity
/// replaces another's (once the last backend to start set one sink for the process).</summary>
public sealed class OnnxRuntimeLogTests
{
    private static void Say(string logId, OrtLoggingLevel level, string message) =>
        OnnxRuntimeLog.OnMessage(IntPtr.Zero, level, "test", logId, "here", message);

    [Fact]
    public void A_sessions_messages_reach_its_own_backend_only()
    {
        var a = new List<string>();
        var b = new List<string>();
        using var first = OnnxRuntimeLog.Listen(new BackendOptions { Log = a.Add, Verbose = true });
        using var second = OnnxRuntimeLog.Listen(new BackendOptions { Log = b.Add });
        Assert.NotEqual(first.Id, second.Id);

        Say(first.Id, OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "for the first");
        Say(second.Id, OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "a warning the second does not want");
        Say(second.Id, OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "an error of the second");

        Assert.Equal(["onnxruntime: for the first"], a);
        Assert.Equal(["onnxruntime: an error of the second"], b);
    }

    [Fact]
    public void A_capture_keeps_its_own_backends_errors_and_ends_with_it()
    {
        var a = new List<string>();
        using var listener = OnnxRuntimeLog.Listen(new BackendOptions { Log = a.Add });
        using (var capture = listener.CaptureErrors())
        {
            Say(listener.Id, OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "CUDA failure 100: no CUDA-capable device");
            Assert.Equal("CUDA failure 100: no CUDA-capable device", capture.FirstError);
            Assert.Empty(a);
        }
        Say(listener.Id, OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "after");
        Assert.Equal(["onnxruntime: after"], a);
    }

    [Fact]
    public void A_closed_listener_hears_nothing_more()
    {
        var a = new List<string>();
        var listener = OnnxRuntimeLog.Listen(new BackendOptions { Log = a.Add });
        var id = listener.Id;
        listener.Dispose();
        Say(id, OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "too late");
        Assert.Empty(a);
    }

    [Fact]
    public void Sessions_carry_their_listeners_id()
    {
        using var listener = OnnxRuntimeLog.Listen(new BackendOptions());
        using var options = OnnxBackend.BaseOptions(new BackendOptions(), listener);
        Assert.Equal(listener.Id, options.LogId);
    }

    [Fact]
    public void An_error_ort_also_throws_is_left_to_the_exception_unless_verbose()
    {
        // ORT logs a failed run and then throws the same text; classify's one line comes from the exception.
        const string run = "Non-zero status code returned while running Conv node. Name:'op0' Status Message: bfc_arena.cc:360 Failed to allocate memory for requested buffer of size 192675840";
        const string init = "Exception during initialization: std::bad_alloc";
        var quiet = new List<string>();
        var verbose = new List<string>();
        using var a = OnnxRuntimeLog.Listen(new BackendOptions { Log = quiet.Add });
        using var b = OnnxRuntimeLog.Listen(new BackendOptions { Log = verbose.Add, Verbose = true });
        foreach (var listener in new[] { a, b })
            foreach (var message in new[] { run, init, "another error" })
                Say(listener.Id, OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, message);
        Assert.Equal(["onnxruntime: another error"], quiet);
        Assert.Equal(["onnxruntime: " + run, "onnxruntime: " + init, "onnxruntime: another error"], verbose);
    }
}
