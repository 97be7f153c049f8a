using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Classify.Gpu;

/// <summary>`classify doctor`'s output: a readable summary ending in one verdict line, or one JSON object.</summary>
public static class GpuReportFormatter
{
    /// <param name="provider">What classify would run on, as checked: e.g. "CUDAExecutionProvider (cuda:0)".</param>
    public static string Text(GpuReport r, string provider, bool verbose)
    {
        var sb = new StringBuilder();
        void Row(string key, string value) => sb.Append(CultureInfo.InvariantCulture, $"{key + ":",-22}{value}\n");
        Row("NVIDIA devices", r.DeviceNodes.Count == 0 ? "none (/dev/nvidia*)" : string.Join(' ', r.DeviceNodes));
        Row("driver", r.DriverVersion ?? "not found");
        Row("CUDA driver API", r.CudaDriverVersion is int v
            ? $"{GpuRequirements.CudaVersionText(v)} ({v}; {r.Requirements.Engine} needs {GpuRequirements.CudaVersionText(r.Requirements.MinCudaDriverVersion)})"
            : "unknown");
        if (r.Gpus.Count == 0)
            Row("GPUs", "none");
        foreach (var g in r.Gpus)
            Row(g == r.Gpus[0] ? "GPUs" : "", Describe(g));
        Row("container", r.Container.Runtime == ContainerRuntime.None ? "none" : $"{r.Container.DisplayName} ({r.Container.Evidence})");
        Row("Slurm", r.Slurm is null ? "not in a Slurm job"
            : r.Slurm.AllocatedGpus is null ? $"job {r.Slurm.JobId}, no GPU allocated"
            : $"job {r.Slurm.JobId}, GPUs {r.Slurm.AllocationEvidence}={r.Slurm.AllocatedGpus}");
        Row("CUDA_VISIBLE_DEVICES", r.CudaVisibleDevices is null ? "not set" : $"\"{r.CudaVisibleDevices}\"");
        if (r.Libraries.Count == 0)
            Row("libraries", r.HardwareVisible ? "not loaded (the verdict did not need them)" : "not loaded (no NVIDIA hardware)");
        foreach (var l in r.Libraries)
            Row(l == r.Libraries[0] ? "libraries" : "", $"{l.Name,-18} {(l.Loaded ? "loaded  " + (l.Path ?? "") : "MISSING " + l.Error)}");
        Row("execution provider", provider);
        if (verbose)
        {
            sb.Append("steps:\n");
            foreach (var step in r.Trace) sb.Append("  ").Append(step).Append('\n');
        }
        sb.Append(r.Diagnosis.Verdict).Append('\n');
        return sb.ToString();
    }

    public static string Json(GpuReport r, string provider, string device)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteBoolean("gpu_usable", r.Diagnosis.GpuUsable);
            w.WriteString("execution_provider", provider);
            w.WriteString("device", device);
            w.WriteStartObject("diagnosis");
            w.WriteNumber("number", r.Diagnosis.Number);
            w.WriteString("kind", r.Diagnosis.Kind.ToString());
            w.WriteString("problem", r.Diagnosis.Problem);
            w.WriteString("fix", r.Diagnosis.Fix);
            w.WriteString("verdict", r.Diagnosis.Verdict["verdict: ".Length..]); // the field names it already
            w.WriteEndObject();
            w.WriteString("driver_version", r.DriverVersion);
            if (r.CudaDriverVersion is int v) w.WriteNumber("cuda_driver_version", v); else w.WriteNull("cuda_driver_version");
            w.WriteNumber("required_cuda_driver_version", r.Requirements.MinCudaDriverVersion);
            w.WriteStartArray("gpus");
            foreach (var g in r.Gpus)
            {
                w.WriteStartObject();
                w.WriteNumber("index", g.Index);
                w.WriteString("name", g.Name);
                if (g.MemoryBytes is long m) w.WriteNumber("memory_bytes", m); else w.WriteNull("memory_bytes");
                w.WriteString("compute_capability", g.ComputeCapability);
                w.WriteString("source", g.Source);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("device_nodes");
            foreach (var n in r.DeviceNodes) w.WriteStringValue(n);
            w.WriteEndArray();
            w.WriteStartObject("container");
            w.WriteString("runtime", r.Container.Runtime.ToString().ToLowerInvariant());
            w.WriteString("evidence", r.Container.Evidence);
            w.WriteEndObject();
            if (r.Slurm is null)
            {
                w.WriteNull("slurm");
            }
            else
            {
                w.WriteStartObject("slurm");
                w.WriteString("job_id", r.Slurm.JobId);
                w.WriteString("gpus", r.Slurm.AllocatedGpus);
                w.WriteString("gpus_from", r.Slurm.AllocationEvidence);
                w.WriteEndObject();
            }
            w.WriteString("cuda_visible_devices", r.CudaVisibleDevices);
            w.WriteStartArray("libraries");
            foreach (var l in r.Libraries)
            {
                w.WriteStartObject();
                w.WriteString("name", l.Name);
                w.WriteString("purpose", l.Purpose);
                w.WriteBoolean("loaded", l.Loaded);
                w.WriteString("path", l.Path);
                w.WriteString("error", l.Error);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("trace");
            foreach (var t in r.Trace) w.WriteStringValue(t);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static string Describe(GpuInfo g)
    {
        var parts = new List<string> { $"{(g.Source == "cuda" ? "cuda:" : "#")}{g.Index} {g.Name}" };
        if (g.MemoryBytes is long m) parts.Add(GpuProbe.FormatBytes(m));
        if (g.ComputeCapability is not null) parts.Add($"compute capability {g.ComputeCapability}");
        parts.Add($"from {g.Source}");
        return string.Join(", ", parts);
    }
}
