using System.Globalization;
using System.Runtime.InteropServices;

namespace Classify;

/// <summary>
/// The process limits a run depends on. The soft limit on open files is raised to the hard one at start (as Go's runtime
/// and systemd advise): a run opens a file per image in flight, the model, ONNX Runtime's libraries and, on a GPU,
/// CUDA's; a soft limit left low by a login shell would turn into "too many open files" halfway through. Under a hard
/// limit too small to run at all, and when memory runs out, the run ends with exit 18 (ResourceExhausted) and one line
/// naming the limit, instead of a runtime's stack trace.
/// </summary>
public static partial class ResourceLimits
{
    /// <summary>Files a run needs open at least: the standard streams, the runtime's and ONNX Runtime's libraries, the
    /// model, the output, its journal and the images in flight.</summary>
    public const ulong MinimumOpenFiles = 64;

    /// <summary>Address space (ulimit -v) below which no run can start: the .NET runtime and ONNX Runtime reserve
    /// more than they use, and under 1 GiB loading a native library (libssl for a checksum, libgcc_s to unwind)
    /// fails inside the runtime, which aborts (134) where no handler of ours can turn it into exit 18. Measured with the
    /// Native AOT build and the default model: 600 MB aborts in libssl, 700 MB cannot map libonnxruntime.so,
    /// 1-1.2 GB ends in ONNX Runtime's std::bad_alloc (exit 18), 1.4 GB classifies.</summary>
    public const ulong MinimumAddressSpace = 1UL << 30;

    private const int RLIMIT_NOFILE = 7, RLIMIT_AS = 9;
    private const ulong Infinity = ulong.MaxValue;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Soft;
        public ulong Hard;
    }

    /// <summary>Raises the soft open-file limit to the hard one. Called first thing in Main: System.Console itself needs
    /// a descriptor (it dups standard error), and under ulimit -n 8 the runtime has used them all by then.</summary>
    /// <returns>Null, or the one-line error where the hard limit is below <see cref="MinimumOpenFiles"/>.</returns>
    public static ClassifyException? RaiseOpenFiles()
    {
        if (!OperatingSystem.IsLinux() || getrlimit(RLIMIT_NOFILE, out var limit) != 0)
            return null;
        if (limit.Soft < limit.Hard)
        {
            var raised = limit with { Soft = limit.Hard };
            if (setrlimit(RLIMIT_NOFILE, in raised) == 0)
                limit = raised;
        }
        return limit.Soft >= MinimumOpenFiles ? null : new ClassifyException(ExitCode.ResourceExhausted, null,
            $"the open-file limit is {limit.Soft} (ulimit -n), below the {MinimumOpenFiles} a run needs; raise it with ulimit -n 1024 (or ask for a higher hard limit)");
    }

    /// <summary>Null, or the one-line error (exit 18) where ulimit -v is below <see cref="MinimumAddressSpace"/>. Called
    /// in Main before anything native is loaded.</summary>
    public static ClassifyException? CheckAddressSpace()
    {
        if (AddressSpaceLimit() is not { } soft || soft >= MinimumAddressSpace)
            return null;
        return new ClassifyException(ExitCode.ResourceExhausted, null,
            $"out of memory: {Limited(soft)}, below the {MinimumAddressSpace >> 20} MiB any run needs (the .NET runtime and ONNX Runtime reserve more than they use): raise or lift it");
    }

    /// <summary>Whether <paramref name="e"/> or an exception inside it (a type initializer's, a task's) is memory that
    /// ran out.</summary>
    public static bool IsOutOfMemory(Exception? e)
    {
        for (var depth = 0; e is not null && depth < 16; depth++, e = e.InnerException)
        {
            if (e is OutOfMemoryException or InsufficientExecutionStackException)
                return true;
            // What native code says when memory runs out: ONNX Runtime's C++ allocation failing (its exceptions carry
            // the message), a library that cannot be mapped (dlopen's words).
            if (e.Message.Contains("std::bad_alloc", StringComparison.Ordinal)
                || e.Message.Contains("Failed to allocate memory", StringComparison.Ordinal) // ONNX Runtime's arena (BFCArena)
                || (e is DllNotFoundException && (e.Message.Contains("failed to map segment", StringComparison.Ordinal)
                    || e.Message.Contains("Cannot allocate memory", StringComparison.Ordinal))))
                return true;
            if (e is AggregateException a && a.InnerExceptions.Any(IsOutOfMemory))
                return true;
        }
        return false;
    }

    /// <summary>The address-space limit (ulimit -v) in words, or "" where there is none.</summary>
    public static string AddressSpace() => AddressSpaceLimit() is { } soft
        ? $"; {Limited(soft)}, and ONNX Runtime and the .NET runtime reserve more than they use: raise or lift it"
        : "";

    /// <summary>The soft address-space limit in bytes, or null where there is none.</summary>
    private static ulong? AddressSpaceLimit() =>
        OperatingSystem.IsLinux() && getrlimit(RLIMIT_AS, out var limit) == 0 && limit.Soft != Infinity ? limit.Soft : null;

    private static string Limited(ulong soft) =>
        $"the address space is limited to {(soft >> 20).ToString(CultureInfo.InvariantCulture)} MiB (ulimit -v {(soft >> 10).ToString(CultureInfo.InvariantCulture)})";

    /// <summary>The one-line error for memory that ran out.</summary>
    public static ClassifyException OutOfMemory(Exception e)
    {
        for (var batch = e; batch is not null; batch = batch.InnerException)
            if (batch is Inference.BatchOutOfMemoryException b)
                return new(ExitCode.ResourceExhausted, null,
                    $"out of memory: {b.Message}: lower --batch_size{(b.Device.IsCuda ? "" : AddressSpace())}", e);
        // The innermost exception says where memory ran out (a model error wraps ONNX Runtime's).
        var inner = e;
        while (inner.InnerException is { } next)
            inner = next;
        var where = inner switch
        {
            OutOfMemoryException => "",
            DllNotFoundException => " (loading a native library)",
            _ when inner.GetType().Name == "OnnxRuntimeException" => " (in ONNX Runtime)",
            _ => $" ({inner.GetType().Name})",
        };
        return new(ExitCode.ResourceExhausted, null, $"out of memory{where}{AddressSpace()}", e);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);
}
