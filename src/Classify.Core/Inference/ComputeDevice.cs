namespace Classify.Inference;

public enum DeviceKind { Cpu, Cuda }

/// <summary>
/// Where a model runs, as a value (issue 27: devices were strings tested with StartsWith("cuda")). Written as
/// "cpu" or "cuda:N", which is how results, shard trailers and the journal's fingerprint name it.
/// </summary>
public readonly record struct ComputeDevice(DeviceKind Kind, int Index)
{
    public static readonly ComputeDevice Cpu = new(DeviceKind.Cpu, 0);

    public static ComputeDevice Cuda(int index) => new(DeviceKind.Cuda, index);

    public bool IsCuda => Kind == DeviceKind.Cuda;

    public override string ToString() => IsCuda ? $"cuda:{Index}" : "cpu";
}
