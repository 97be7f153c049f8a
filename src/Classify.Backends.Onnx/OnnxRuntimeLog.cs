using Classify.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Classify.Backends.Onnx;

/// <summary>
/// ONNX Runtime's process-wide environment with a logger of ours. Without it ORT writes its warnings straight
/// to stderr; with it a failing CUDA provider's own error text can become diagnosis 7, and --verbose shows the
/// rest. It must exist before anything touches OrtEnv (OrtCUDAProviderOptions fails on "DefaultLogger" otherwise).
/// </summary>
internal static class OnnxRuntimeLog
{
    private static readonly Lock Gate = new();
    private static readonly List<string> Captured = [];
    private static Action<string>? _sink;
    private static bool _verbose;
    private static int _capturing;

    public static void EnsureEnvironment(BackendOptions options)
    {
        lock (Gate)
        {
            _sink = options.Log;
            _verbose = options.Verbose;
            Create();
        }
    }

    /// <summary>
    /// Loads the native runtime and creates the environment ahead of time, on a pool thread, so that the
    /// ~0.1 s this takes overlaps the command-line parsing of a cold start. Leaves the log sink alone.
    /// </summary>
    public static Task Preload() => Task.Run(Create);

    private static void Create()
    {
        lock (Gate)
        {
            if (OrtEnv.IsCreated) return;
            // Cluster nodes have no business phoning home (and usually cannot). Since 1.29 ONNX Runtime's Linux
            // telemetry starts inside environment creation, before DisableTelemetryEvents can be called: it writes
            // a device id and an event database under ~/.cache/Microsoft/DeveloperTools (the shared home, on a
            // cluster) and queues a ProcessInfo event. Only ORT_DISABLE_TELEMETRY, read at that moment, stops it.
            NativeEnvironment.SetDefault("ORT_DISABLE_TELEMETRY", "1");
            var creation = new EnvironmentCreationOptions
            {
                logId = "classify",
                logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
                loggingFunction = OnMessage,
            };
            try
            {
                OrtEnv.CreateInstanceWithOptions(ref creation).DisableTelemetryEvents();
            }
            catch (OnnxRuntimeException) when (OrtEnv.IsCreated)
            {
                // Someone else created it first (tests in parallel): ORT's own stderr logger stays, nothing lost.
            }
        }
    }

    /// <summary>Starts keeping ORT's errors instead of printing them, for the length of a CUDA attempt.</summary>
    public static Capture CaptureErrors()
    {
        lock (Gate)
        {
            _capturing++;
            return new Capture(Captured.Count);
        }
    }

    private static void OnMessage(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        lock (Gate)
        {
            var isError = severity >= OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            if (isError && _capturing > 0)
                Captured.Add(message);
            else if (isError || _verbose)
                _sink?.Invoke($"onnxruntime: {message.ReplaceLineEndings(" ").Trim()}");
        }
    }

    public sealed class Capture(int start) : IDisposable
    {
        /// <summary>The first error ORT logged since the capture began, or null.</summary>
        public string? FirstError
        {
            get
            {
                lock (Gate) return Captured.Count > start ? Captured[start] : null;
            }
        }

        public void Dispose()
        {
            lock (Gate) _capturing--;
        }
    }
}
