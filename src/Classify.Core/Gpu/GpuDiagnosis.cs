namespace Classify.Gpu;

/// <summary>The verdicts the probe tells apart; the number is the one `classify doctor --json` reports.</summary>
public enum GpuDiagnosisKind
{
    /// <summary>A GPU is usable.</summary>
    Usable = 0,
    /// <summary>Singularity/Apptainer on a GPU host, started without --nv.</summary>
    ContainerWithoutNv = 1,
    /// <summary>Docker/Podman without the NVIDIA devices or driver libraries (no --gpus).</summary>
    ContainerWithoutGpus = 2,
    /// <summary>A Slurm job that was given no GPU.</summary>
    SlurmNoGpu = 3,
    /// <summary>CUDA_VISIBLE_DEVICES hides every GPU.</summary>
    GpusHidden = 4,
    /// <summary>The driver's CUDA version is older than the engine needs.</summary>
    DriverTooOld = 5,
    /// <summary>The driver works, some CUDA user-space library does not load.</summary>
    LibrariesMissing = 6,
    /// <summary>CUDA fails for another reason; the native message says why.</summary>
    ProviderFailed = 7,
    /// <summary>No NVIDIA GPU at all.</summary>
    NoGpu = 8,
}

/// <summary>
/// One verdict: what is wrong (<see cref="Problem"/>) and what to do about it (<see cref="Fix"/>), worded so
/// that either reads well at the end of a sentence. A usable GPU has Problem = what will be used.
/// </summary>
public sealed record GpuDiagnosis(GpuDiagnosisKind Kind, string Problem, string Fix)
{
    public bool GpuUsable => Kind == GpuDiagnosisKind.Usable;

    public int Number => (int)Kind;

    /// <summary>The one line classify prints on stderr when it falls back to the CPU.</summary>
    public string WarningLine => $"warning: {Problem}; {Fix}. Running on the CPU.";

    /// <summary>The message of the error when a GPU was required (--require-gpu, --device cuda).</summary>
    public string ErrorMessage => $"a GPU is required but not usable: {Problem}; {Fix}";

    /// <summary>`classify doctor`'s last line.</summary>
    public string Verdict => GpuUsable ? $"verdict: GPU usable: {Problem}" : $"verdict: no usable GPU: {Problem}; {Fix}.";

    public static GpuDiagnosis Usable(string what) => new(GpuDiagnosisKind.Usable, what, "none needed");

    public static GpuDiagnosis ProviderFailed(string problem, string fix) => new(GpuDiagnosisKind.ProviderFailed, problem, fix);
}

/// <summary>
/// What an inference engine needs from the driver and the CUDA libraries. The probe is shared: each backend
/// passes its own requirements.
/// </summary>
public sealed record GpuRequirements(string Engine, int MinCudaDriverVersion, IReadOnlyList<(string Name, string Purpose)> Libraries)
{
    /// <summary>Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0 is a CUDA 13 build: its CUDA provider loads these at run time.</summary>
    public static readonly GpuRequirements OnnxRuntime = new("ONNX Runtime 1.31", 13000,
    [
        ("libcudart.so.13", "CUDA 13 runtime"),
        ("libcublas.so.13", "cuBLAS 13"),
        ("libcublasLt.so.13", "cuBLASLt 13"),
        ("libcurand.so.10", "cuRAND 10"),
        ("libcudnn.so.9", "cuDNN 9"),
    ]);

    /// <summary>"13.0" for 13000.</summary>
    public static string CudaVersionText(int version) => $"{version / 1000}.{version % 1000 / 10}";
}
