namespace Classify.Tests;

/// <summary>The fixtures every test project uses: real photos and the bundled models, found from the repository root.</summary>
internal static class TestData
{
    public static readonly string RepoRoot = FindRepoRoot();
    public static readonly string Images = Path.Combine(RepoRoot, "tests", "images");
    public static readonly string Models = Path.Combine(RepoRoot, "models");

    public static readonly string Chelsea = Path.Combine(Images, "chelsea.png");
    public static readonly string Coffee = Path.Combine(Images, "coffee.png");
    public static readonly string Rocket = Path.Combine(Images, "rocket.jpg");
    public static readonly string Astronaut = Path.Combine(Images, "astronaut.png");

    public const string SqueezeNet = "squeezenet1.1";
    public const string MobileNet = "mobilenet_v2_1.0_224_quant";
    public const string EdgeTpuQuant = "mobilenet_edgetpu_224_1.0_quant";
    public const string EdgeTpuFloat = "mobilenet_edgetpu_224_1.0_float";

    /// <summary>The model classify runs when none is named (issue 31: the most accurate bundled one).</summary>
    public const string DefaultModel = EdgeTpuFloat;
    public const string EgyptianCat = "Egyptian cat";
    public const int EgyptianCatClass = 285;
    public const string Espresso = "espresso";

    public static string ModelFolder(string name) => Path.Combine(Models, name);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Classifier.sln")))
                return dir.FullName;
        throw new InvalidOperationException("Classifier.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary folder deleted with the test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "classify-test-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
