using System.Runtime.InteropServices;
using Classify.Backends.Onnx;
using Classify.Backends.Torch;
using Classify.Cli.Commands;
using Classify.Inference;

namespace Classify.Cli;

/// <summary>Composition root: parses the command line, wires the parts and turns errors into exit codes.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (ResourceLimits.RaiseOpenFiles() is { } tooFew)
        {
            // Written with write(2): System.Console cannot open standard error without a descriptor to spare.
            WriteRawError(tooFew.OneLine);
            return tooFew.ExitCode;
        }
        if (ResourceLimits.CheckAddressSpace() is { } tooSmall)
        {
            WriteRawError(tooSmall.OneLine);
            return tooSmall.ExitCode;
        }
        // A thread the runtime starts for itself (the thread pool's) has no handler of ours: memory that runs out there
        // would end the process with a stack trace and 134.
        var debug = Environment.GetEnvironmentVariable("CLASSIFY_DEBUG") is "1";
        AppDomain.CurrentDomain.UnhandledException += (_, e) => LastWords(e.ExceptionObject as Exception, debug);
        RunContext.InitializeWithoutKeypadMode();
        // Read once: the streams, terminals and environment every command is handed (issue 27).
        var context = RunContext.OfProcess();
        args = RawArguments.Recover(args);
        using var cancel = new CancellationTokenSource();
        // Slurm sends SIGTERM at the time limit; cancelling lets the atomic output delete its temp file.
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
        // A second Ctrl-C ends the process at once, as users expect of a tool that seems stuck.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = !cancel.IsCancellationRequested; cancel.Cancel(); });
        // Most runs classify with ONNX Runtime: load it while the command line is parsed (a cold start is
        // dominated by such fixed costs).
        var preload = MayUseOnnxRuntime(args) ? OnnxBackendFactory.Preload() : Task.CompletedTask;
        try
        {
            return Run(args, context, cancel.Token);
        }
        finally
        {
            // An early exit (a usage error) must not tear the process down while ORT is still initialising on
            // the pool thread: its static destructors would run under it (a segfault in the AOT build).
            try { preload.Wait(); }
            catch (AggregateException) { } // a missing or broken ORT is reported by the backend that needs it
        }
    }

    /// <summary>One line and a documented exit code for an exception on a thread outside every command's handler.</summary>
    private static void LastWords(Exception? e, bool debug)
    {
        if (e is null || (debug && !ResourceLimits.IsOutOfMemory(e)))
            return;
        var (code, line) = ResourceLimits.IsOutOfMemory(e)
            ? (ExitCode.ResourceExhausted, ResourceLimits.OutOfMemory(e).OneLine)
            : (ExitCode.InternalError, $"internal error: {ClassifyException.Fold(e.GetType().Name + ": " + e.Message)} (set CLASSIFY_DEBUG=1 for the stack trace)");
        try
        {
            WriteRawError(line);
        }
        catch (Exception)
        {
            // nothing left to say it with
        }
        // _exit(2), not Environment.Exit: with no memory left the runtime's orderly exit can fail in turn (exit 1). What
        // the journal flushed stays; a rerun resumes after it.
        Exit(code);
    }

    /// <summary>"classify: LINE" on standard error with write(2), for when System.Console cannot be used.</summary>
    private static void WriteRawError(string line)
    {
        using var stderr = Output.OutputFaults.OpenStandardError();
        stderr.Write(System.Text.Encoding.UTF8.GetBytes($"classify: {line}\n"));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "_exit")]
    private static extern void Exit(int status);

    /// <summary>A guess from the raw arguments, before parsing: false where the run cannot need ONNX Runtime (other
    /// verbs, help, TorchSharp by --backend or by a .pt model). A wrong guess only costs or saves the preload.</summary>
    private static bool MayUseOnnxRuntime(string[] args) =>
        args is not ["doctor" or "merge" or "decode" or "models", ..]
        && !args.Any(a => a is "torch" or "--backend=torch" or "--help" || a.EndsWith(".pt", StringComparison.OrdinalIgnoreCase));

    /// <summary>The verbs besides the default classify, for "did you mean" on a mistyped one.</summary>
    internal static readonly string[] Commands = ["doctor", "merge", "eval", "decode", "bench", "models"];

    internal static IReadOnlyDictionary<string, IBackendFactory> Backends() => new Dictionary<string, IBackendFactory>
    {
        ["onnx"] = new OnnxBackendFactory(),
        ["torch"] = new TorchBackendFactory(),
    };

    internal static int Run(string[] args, RunContext context, CancellationToken cancel = default) => Run(args, context, Backends(), cancel);

    /// <summary>The same with the engines given (a test's, wrapped round the real ones to fail at a seam this machine cannot
    /// reach, such as GPU memory running out mid-run).</summary>
    internal static int Run(string[] args, RunContext context, IReadOnlyDictionary<string, IBackendFactory> backends, CancellationToken cancel = default)
    {
        try
        {
            // Verbs are dispatched here, not by ParseArguments<A, B>: with several verb types CommandLineParser
            // 2.9.1 ignores AllowMultiInstance for the default verb (commandlineparser/commandline#922).
            if (args is ["doctor", .. var doctorArgs])
                return Arguments.Parse<DoctorOptions>(doctorArgs, "doctor", context, o => new DoctorCommand(context).Run(o));
            if (args is ["decode", .. var decodeArgs])
                return Arguments.Parse<DecodeOptions>(decodeArgs, "decode", context, o => new DecodeCommand(context).Run(o, cancel));
            if (args is ["bench", .. var benchArgs])
                return Arguments.Parse<BenchOptions>(benchArgs, "bench", context, o => new BenchCommand(context, backends).Run(o, cancel));
            if (args is ["models", .. var modelsArgs])
                return new ModelsCommand(context).Run(modelsArgs, cancel);
            if (args is ["eval", .. var evalArgs])
                return Arguments.Parse<EvalOptions>(evalArgs, "eval", context, o => new EvalCommand(context, backends).Run(o, cancel));
            if (args is ["merge", .. var mergeArgs])
                return Arguments.Parse<MergeOptions>(mergeArgs, "merge", context, o => new MergeCommand(context).Run(o));
            return Arguments.Parse<ClassifyOptions>(args, "classify", context, o => new ClassifyCommand(context, backends).Run(o, cancel));
        }
        catch (EvalCommand.EvalStopped stopped)
        {
            return stopped.ExitCode;
        }
        // A model error that wraps memory running out (ONNX Runtime's std::bad_alloc while loading) is exit 18; one that
        // already says so (with what the journal keeps) is printed as it is.
        catch (ClassifyException e) when (e.ExitCode == ExitCode.ResourceExhausted || !ResourceLimits.IsOutOfMemory(e.InnerException))
        {
            context.Error.WriteLine($"classify: {e.OneLine}");
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            context.Error.WriteLine("classify: cancelled before any result was written");
            return ExitCode.Cancelled;
        }
        catch (Exception e) when (ResourceLimits.IsOutOfMemory(e))
        {
            var error = ResourceLimits.OutOfMemory(e);
            context.Error.WriteLine($"classify: {error.OneLine}");
            return error.ExitCode;
        }
        catch (Exception e) when (context.Environment["CLASSIFY_DEBUG"] is not "1")
        {
            // A bug, not a user error: one line users can paste into an issue, the trace on request.
            context.Error.WriteLine($"classify: internal error: {ClassifyException.Fold(e.GetType().Name + ": " + e.Message)} (set CLASSIFY_DEBUG=1 for the stack trace)");
            return ExitCode.InternalError;
        }
    }
}
