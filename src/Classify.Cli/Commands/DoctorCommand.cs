using Classify.Backends.Onnx;
using Classify.Gpu;
using Classify.Inference;
using Classify.Models;

namespace Classify.Cli.Commands;

/// <summary>
/// `classify doctor`: the probe in its thorough form (every library loaded, for the report) and, when it finds
/// a usable GPU, a real CUDA session for the default model, since only ONNX Runtime itself can prove that its
/// CUDA provider works. Exit 0 when a GPU is usable, <see cref="ExitCode.GpuUnavailable"/> otherwise.
/// </summary>
internal sealed class DoctorCommand(RunContext context)
{
    public int Run(DoctorOptions o)
    {
        if (o.Gpu < 0)
            throw new ClassifyException(ExitCode.Usage, null, "--gpu must be 0 or more (an index among the visible GPUs)");
        var requirements = GpuRequirements.OnnxRuntime;
        var report = GpuProbe.ForThisProcess(context.Environment).Run(requirements, thorough: true);
        report = report with { Diagnosis = report.DiagnosisFor(o.Gpu) };
        var provider = "CPUExecutionProvider";
        var device = ComputeDevice.Cpu;
        if (report.Diagnosis.GpuUsable)
        {
            // TODO(torch helper): the TorchSharp backend's CUDA check goes beside this one.
            try
            {
                var manifest = ModelSetup.Catalog(null, context).Resolve(ModelCatalog.DefaultModel, out _);
                var (cudaDevice, placement, failure) = OnnxBackend.CheckCuda(manifest, o.Gpu);
                if (failure is not null)
                {
                    report = report.WithProviderFailure(requirements.Engine, failure);
                }
                else
                {
                    device = cudaDevice;
                    provider = $"CUDAExecutionProvider on {cudaDevice} ({placement}; checked with a {manifest.Name} session)";
                }
            }
            catch (ClassifyException e)
            {
                provider = $"CUDAExecutionProvider, not checked: {e.OneLine}";
                device = ComputeDevice.Cuda(o.Gpu);
            }
        }
        context.Out.Write(o.Json
            ? GpuReportFormatter.Json(report, provider, device.ToString())
            : GpuReportFormatter.Text(report, provider, o.Verbose));
        return report.Diagnosis.GpuUsable ? ExitCode.Success : ExitCode.GpuUnavailable;
    }
}
