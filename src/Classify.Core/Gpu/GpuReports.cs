using System.Collections.Concurrent;

namespace Classify.Gpu;

/// <summary>
/// The GPU probe's report of one run, made at most once per engine's requirements and passed to every part that
/// decides about the GPU (the command's --require-gpu check, the backend's device choice), instead of a static
/// cache (issue 27).
/// </summary>
public sealed class GpuReports(Func<GpuRequirements, GpuReport> probe)
{
    private readonly ConcurrentDictionary<GpuRequirements, Lazy<GpuReport>> _reports = new();

    /// <summary>The probe of this machine with the run's environment.</summary>
    public static GpuReports ForThisProcess(RunEnvironment environment) => new(r => GpuProbe.ForThisProcess(environment).Run(r));

    /// <summary>How many times the probe ran (a test checks that a run probes once).</summary>
    public int Probes => _reports.Values.Count(l => l.IsValueCreated);

    public GpuReport For(GpuRequirements requirements) =>
        _reports.GetOrAdd(requirements, r => new Lazy<GpuReport>(() => probe(r))).Value;
}
