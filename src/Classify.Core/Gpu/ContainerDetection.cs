namespace Classify.Gpu;

/// <summary>Which container runtime, if any, this process runs in, from the signs each leaves: Apptainer/Singularity's
/// variables or <c>/.singularity.d</c>, Podman's <c>/run/.containerenv</c> or <c>container=podman</c>, Docker's
/// <c>/.dockerenv</c>. One reading for the GPU report and for every hint that depends on it (libtorch's).</summary>
public static class ContainerDetection
{
    private static readonly string[] ApptainerVariables = ["APPTAINER_CONTAINER", "APPTAINER_NAME", "SINGULARITY_CONTAINER", "SINGULARITY_NAME"];

    /// <summary>The container this process runs in (<see cref="ContainerInfo.None"/> outside one).</summary>
    public static ContainerInfo Here() => Detect(Environment.GetEnvironmentVariable, path => path);

    /// <summary>The container seen through <paramref name="env"/> and a file system whose absolute paths
    /// <paramref name="under"/> maps (a test's fake root).</summary>
    public static ContainerInfo Detect(Func<string, string?> env, Func<string, string> under)
    {
        foreach (var name in ApptainerVariables)
        {
            if (env(name) is { Length: > 0 } value)
                return new ContainerInfo(ContainerRuntime.Apptainer, $"{name}={value}");
        }
        if (Directory.Exists(under("/.singularity.d")))
            return new ContainerInfo(ContainerRuntime.Apptainer, "/.singularity.d exists");
        if (File.Exists(under("/run/.containerenv")))
            return new ContainerInfo(ContainerRuntime.Podman, "/run/.containerenv exists");
        if (File.Exists(under("/.dockerenv")))
            return new ContainerInfo(ContainerRuntime.Docker, "/.dockerenv exists");
        if (env("container") == "podman")
            return new ContainerInfo(ContainerRuntime.Podman, "container=podman");
        return ContainerInfo.None;
    }
}
