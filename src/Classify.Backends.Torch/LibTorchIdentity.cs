using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Classify.Backends.Torch;

/// <summary>
/// Which libtorch a failed load found, and its version, so that a foreign one (a distribution's libtorch 1.13 on the
/// loader path, an old PyTorch's torch/lib) is named in the error instead of the loader's "undefined symbol:
/// _ZNK3c105Error4whatEv". libtorch exports no version function; the version is read from what ships beside it.
/// </summary>
internal static partial class LibTorchIdentity
{
    /// <summary>The libtorch TorchSharp 0.107 is built against.</summary>
    public const string Expected = "2.10";

    [GeneratedRegex(@"^libtorch\.so\.(\d+(?:\.\d+)*)$")]
    private static partial Regex VersionedName();

    [GeneratedRegex(@"__version__\s*=\s*['""]([^'""]+)['""]")]
    private static partial Regex PythonVersion();

    /// <summary>The libtorch.so a search by the loader (LD_LIBRARY_PATH, ld.so.cache) or <paramref name="dir"/> gives,
    /// resolved to the real file, or null when there is none.</summary>
    public static string? Find(string? dir)
    {
        var candidate = dir is null ? null : Path.Combine(dir, "libtorch.so");
        if (candidate is not null && File.Exists(candidate))
            return candidate;
        // Loaded by name, the file shows in the memory map under its real path; it stays loaded, which costs
        // nothing here: the process is about to report the failure and exit.
        if (!NativeLibrary.TryLoad("libtorch.so", out _))
            return null;
        return LibTorchNative.MappedFile(name => name.StartsWith("libtorch.so", StringComparison.Ordinal));
    }

    /// <summary>libtorch's version: from a versioned file name (Debian's libtorch.so.1.13.0), the archive's
    /// build-version (libtorch/lib/../build-version), or PyTorch's torch/version.py; null when none says.</summary>
    public static string? Version(string libtorch)
    {
        var real = Resolve(libtorch);
        if (VersionedName().Match(Path.GetFileName(real)) is { Success: true } m)
            return m.Groups[1].Value;
        var parent = Path.GetDirectoryName(Path.GetDirectoryName(real));
        if (parent is null)
            return null;
        if (ReadFirstLine(Path.Combine(parent, "build-version")) is { Length: > 0 } build)
            return build;
        var python = Path.Combine(parent, "version.py");
        if (File.Exists(python) && PythonVersion().Match(File.ReadAllText(python)) is { Success: true } p)
            return p.Groups[1].Value;
        return null;
    }

    /// <summary>"libtorch 1.13.0 (/usr/lib/x86_64-linux-gnu/libtorch.so.1.13.0)": the version, and the real file when
    /// <paramref name="libtorch"/> is a link.</summary>
    public static string Describe(string libtorch)
    {
        var real = Resolve(libtorch);
        return $"libtorch {Version(libtorch) ?? "of unknown version"}" + (real == libtorch ? "" : $" ({real})");
    }

    /// <summary>Whether <paramref name="version"/> is the libtorch TorchSharp needs (2.10, 2.10.0+cpu, ...).</summary>
    public static bool IsExpected(string? version) =>
        version is not null && (version == Expected || version.StartsWith(Expected + ".", StringComparison.Ordinal) || version.StartsWith(Expected + "+", StringComparison.Ordinal));

    private static string Resolve(string path)
    {
        try
        {
            return File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);
        }
        catch (IOException)
        {
            return path;
        }
    }

    private static string? ReadFirstLine(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadLines(path).FirstOrDefault()?.Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
