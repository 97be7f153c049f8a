using Classify.Inference;

namespace Classify.Gpu;

/// <summary>
/// What --device, --gpu and --require-gpu mean, for every backend: when to try CUDA, and what to say or do
/// when it is not usable (one warning line and the CPU, or exit <see cref="ExitCode.GpuUnavailable"/>).
/// </summary>
public sealed class GpuDevicePolicy
{
    private readonly BackendOptions _options;
    private readonly Func<GpuRequirements, GpuReport> _probe;
    private readonly GpuRequirements _requirements;

    /// <param name="probe">The probe; by default the run's (<see cref="BackendOptions.GpuReports"/>, made once per run
    /// and requirements), else a probe of this machine made for this policy.</param>
    public GpuDevicePolicy(BackendOptions options, GpuRequirements requirements, Func<GpuRequirements, GpuReport>? probe = null)
    {
        _options = options;
        _requirements = requirements;
        _probe = probe ?? (options.GpuReports ?? GpuReports.ForThisProcess(RunEnvironment.OfProcess())).For;
    }

    /// <summary>The probe's findings once <see cref="ShouldTryCuda"/> has run (null for --device cpu).</summary>
    public GpuReport? Report { get; private set; }

    /// <summary>A GPU is required: --require-gpu or --device cuda.</summary>
    public bool Required => _options.RequireGpu || _options.Device == DeviceRequest.Cuda;

    /// <summary>
    /// Whether the backend should create its session on CUDA device <see cref="BackendOptions.GpuIndex"/>.
    /// When not, this has already warned, stayed quiet, or thrown, as the options ask.
    /// </summary>
    public bool ShouldTryCuda()
    {
        if (_options.Device == DeviceRequest.Cpu)
            return false;
        Report = _probe(_requirements);
        var diagnosis = Report.DiagnosisFor(_options.GpuIndex);
        if (diagnosis.GpuUsable)
            return true;
        FallBack(diagnosis);
        return false;
    }

    /// <summary>The engine's CUDA provider failed: diagnosis 7 with <paramref name="nativeMessage"/> verbatim.</summary>
    public void CudaFailed(string nativeMessage)
    {
        Report = (Report ?? _probe(_requirements)).WithProviderFailure(_requirements.Engine, nativeMessage);
        FallBack(Report.Diagnosis);
    }

    /// <summary>For --require-gpu: fails before any image is read when the probe already rules the GPU out.</summary>
    public void ThrowIfRequiredAndUnusable()
    {
        if (!Required) return;
        Report = _probe(_requirements);
        var diagnosis = Report.DiagnosisFor(_options.GpuIndex);
        if (!diagnosis.GpuUsable)
            throw Unavailable(diagnosis);
    }

    /// <summary>What --verbose says about the device once the backend has chosen it.</summary>
    public void Chose(ComputeDevice device)
    {
        if (_options.Verbose && Report is not null)
            _options.Log?.Invoke(device.IsCuda
                ? $"GPU: {Report.Diagnosis.Problem}; running on {device}"
                : $"GPU: {Report.Diagnosis.Problem}; running on the CPU");
    }

    private void FallBack(GpuDiagnosis diagnosis)
    {
        if (Required)
            throw Unavailable(diagnosis);
        // Hardware that does not work deserves the one warning line; a CPU machine stays silent.
        if (Report!.ShouldWarn || diagnosis.Kind == GpuDiagnosisKind.ProviderFailed)
            _options.Log?.Invoke(diagnosis.WarningLine);
    }

    private static ClassifyException Unavailable(GpuDiagnosis d) => new(ExitCode.GpuUnavailable, null, d.ErrorMessage);
}
