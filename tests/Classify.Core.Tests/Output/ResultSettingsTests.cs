using System.Reflection;
using Classify.Output;

namespace Classify.Tests.Output;

/// <summary>The journal's fingerprint covers every member of <see cref="ResultSettings"/>, including one added later:
/// each member is changed in turn (found by reflection, not listed here) and the fingerprint must change with it.</summary>
public sealed class ResultSettingsTests
{
    private static readonly ResultSettings Base = new()
    {
        Model = "squeezenet1.1", ModelFileSha256 = "33147f1f", LabelsSha256 = "ab", Synsets = "cd", ClassifyVersion = "1.0.0+abc",
        Backend = "onnx", Device = "cpu", Half = false, ChannelsLast = false, DevicePreprocessing = false,
        JpegDecoder = "libjpeg-turbo", PngDecoder = "libspng", JpegDctScale = false, DecodeTimeoutSeconds = 20,
        MaxFileBytes = 256L << 20, MaxPixels = 178_956_970, TopK = 5, Shard = "0/1",
    };

    private static object Other(object value) => value switch
    {
        string s => s + "x",
        bool b => !b,
        double d => d + 0.5,
        long l => l + 1,
        int i => i + 1,
        _ => throw new InvalidOperationException($"ResultSettingsTests does not know how to change a {value.GetType().Name}: add it here"),
    };

    /// <summary>The record's settings: its init properties (the derived ones, Provenance, follow from them).</summary>
    public static TheoryData<string> Members() =>
        [.. typeof(ResultSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(Members))]
    public void Changing_any_member_changes_the_fingerprint(string member)
    {
        var property = typeof(ResultSettings).GetProperty(member)!;
        var changed = Base with { };
        property.SetValue(changed, Other(property.GetValue(Base)!));
        Assert.NotEqual(property.GetValue(Base), property.GetValue(changed));
        Assert.NotEqual(Base.Fingerprint("inputs"), changed.Fingerprint("inputs"));
    }

    [Fact]
    public void The_same_settings_and_inputs_give_the_same_fingerprint_and_other_inputs_another()
    {
        Assert.Equal(Base.Fingerprint("inputs"), (Base with { }).Fingerprint("inputs"));
        Assert.NotEqual(Base.Fingerprint("inputs"), Base.Fingerprint("other inputs"));
        Assert.True(typeof(ResultSettings).GetProperties().Count(p => p.CanWrite) >= 18, "the record lost members");
    }
}
