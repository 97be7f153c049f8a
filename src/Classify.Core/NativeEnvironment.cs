using System.Runtime.InteropServices;

namespace Classify;

/// <summary>
/// The process's native environment, the one native libraries read with getenv. .NET's
/// Environment.SetEnvironmentVariable keeps its own copy on Unix and does not reach it.
/// </summary>
public static partial class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> for native code unless it is set already: a user's own value wins.</summary>
    public static void SetDefault(string name, string value)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            _ = SetEnv(name, value, 0);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
