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
    private static readonly List<Listener> Listeners = [];
    private static int _opened;

    /// <summary>
    /// Creates the environment if need be and opens a listener for one backend: its sessions log under the listener's
    /// id (<see cref="Listener.Apply"/>), and ORT's messages for that id go to that backend's log only, with its own
    /// verbosity and captures (issue 27: once, the last backend to start set one sink for all). Messages that name no
    /// open listener (the environment's own) go to the newest one. Dispose it with the backend.
    /// </summary>
    public static Listener Listen(BackendOptions options)
    {
        lock (Gate)
        {
            Create();
            var listener = new Listener($"classify-{++_opened}", options.Log, options.Verbose);
            Listeners.Add(listener);
            return listener;
        }
    }

    /// <summary>
    /// Loads the native runtime and creates the environment ahead of time, on a pool thread, so that the
    /// ~0.1 s this takes overlaps the command-line parsing of a cold start.
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

    internal static void OnMessage(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        lock (Gate)
        {
            var listener = Listeners.FindLast(l => l.Id == logId) ?? Listeners.LastOrDefault();
            listener?.Receive(severity >= OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, message);
        }
    }

    /// <summary>One backend's share of ORT's log.</summary>
    public sealed class Listener(string id, Action<string>? sink, bool verbose) : IDisposable
    {
        private readonly List<string> _captured = [];
        private int _capturing;

        /// <summary>The log id its sessions carry (SessionOptions.LogId), by which their messages find it.</summary>
        public string Id { get; } = id;

        /// <summary>Makes a session created with <paramref name="options"/> log to this listener.</summary>
        public SessionOptions Apply(SessionOptions options)
        {
            options.LogId = Id;
            return options;
        }

        /// <summary>Starts keeping ORT's errors instead of printing them, for the length of a CUDA attempt.</summary>
        public Capture CaptureErrors()
        {
            lock (Gate)
            {
                _capturing++;
                return new Capture(this, _captured.Count);
            }
        }

        /// <summary>Called under the gate.</summary>
        internal void Receive(bool isError, string message)
        {
            if (isError && _capturing > 0)
                _captured.Add(message);
            else if (verbose || (isError && !Thrown(message)))
                sink?.Invoke($"onnxruntime: {message.ReplaceLineEndings(" ").Trim()}");
        }

        /// <summary>Errors ORT logs and then throws with the same text (a failed run, a failed session): the exception is
        /// what classify reports, in its one line; the log's copy only doubles it (shown with --verbose).</summary>
        internal static bool Thrown(string message) =>
            message.StartsWith("Non-zero status code returned while running", StringComparison.Ordinal)
            || message.StartsWith("Exception during initialization", StringComparison.Ordinal);

        public void Dispose()
        {
            lock (Gate) Listeners.Remove(this);
        }

        public sealed class Capture(Listener listener, int start) : IDisposable
        {
            /// <summary>The first error ORT logged for this listener since the capture began, or null.</summary>
            public string? FirstError
            {
                get
                {
                    lock (Gate) return listener._captured.Count > start ? listener._captured[start] : null;
                }
            }

            public void Dispose()
            {
                lock (Gate) listener._capturing--;
            }
        }
    }
}
