using Classify.Gpu;

namespace Classify.Images;

/// <summary>
/// How a system decoder library (libjpeg-turbo, libspng) is found: turned off by its variable, loaded by its soname,
/// bound by <c>bind</c>; where any step fails ImageSharp decodes instead, and the status line (--verbose) says why.
/// </summary>
internal static class NativeDecoder
{
    public static (T? Api, string Status) Load<T>(string offVariable, string soname, string library, string api, string install,
        Func<nint, T> bind) where T : class
    {
        if (Environment.GetEnvironmentVariable(offVariable) is "off" or "0" or "false")
            return (null, $"ImageSharp ({offVariable}=off)");
        var lib = NativeLibraryLoader.Instance.Load(soname);
        if (!lib.Loaded)
            return (null, $"ImageSharp ({soname}: {lib.Error}; {install})");
        try
        {
            return (bind(lib.Handle), $"{library} ({lib.Path ?? soname})");
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, $"ImageSharp ({lib.Path ?? soname} lacks the {api} API: {e.Message})");
        }
    }

    /// <summary>The library's name from a status line: "libjpeg-turbo", "libspng" or "ImageSharp".</summary>
    public static string Library(string status) => status[..status.IndexOf(' ')];
}
