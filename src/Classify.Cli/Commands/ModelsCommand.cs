using System.Globalization;
using Classify.Models;
using Classify.Models.Zoo;

namespace Classify.Cli.Commands;

/// <summary>`classify models list|pull|verify|path|rm|add`: the bundled models, the catalogue and the cache.</summary>
internal sealed class ModelsCommand(RunContext context)
{
    public static readonly string[] Verbs = ["list", "pull", "verify", "path", "rm", "add"];

    public int Run(string[] args, CancellationToken cancel)
    {
        switch (args)
        {
            case ["list", .. var rest]:
                return Arguments.Parse<ModelsListOptions>(rest, "models list", context, List);
            case ["pull", .. var rest]:
                return Arguments.Parse<ModelsPullOptions>(rest, "models pull", context, o => Pull(o, cancel));
            case ["verify", .. var rest]:
                return Arguments.Parse<ModelsVerifyOptions>(rest, "models verify", context, Verify);
            case ["path", .. var rest]:
                return Arguments.Parse<ModelsPathOptions>(rest, "models path", context, Path);
            case ["rm", .. var rest]:
                return Arguments.Parse<ModelsRmOptions>(rest, "models rm", context, Remove);
            case ["add", .. var rest]:
                return Arguments.Parse<ModelsAddOptions>(rest, "models add", context, o => new ModelsAddCommand(context).Run(o));
            case [] or ["--help" or "-h" or "help"]:
                context.Out.Write(Usage);
                return ExitCode.Success;
            default:
                var hint = Suggestions.Closest(args[0], Verbs) is { } c ? $" (did you mean '{c}'?)" : "";
                context.Error.WriteLine($"classify: unknown command 'models {args[0]}'{hint}; see classify models --help");
                return ExitCode.Usage;
        }
    }

    private const string Usage = """
        Usage: classify models COMMAND [options]

          list              the bundled, downloaded and downloadable models
          pull NAME...      download catalogue models into the cache (on a login node: compute nodes often have no internet)
          verify [NAME...]  check installed model files against their sha256
          path NAME...      print installed models' folders
          rm NAME...        delete downloaded models from the cache
          add FILE.onnx --preset torchvision|inception|caffe-bgr|tf-mobilenet
                            write the model.json for your own model

        Environment: CLASSIFY_CACHE (the cache), CLASSIFY_MODEL_MIRROR (a site copy of the catalogue's files),
        CLASSIFY_OFFLINE=1 (never download), CLASSIFY_MODEL_DIR (more model folders), HTTPS_PROXY/NO_PROXY.
        Each command takes --help.

        """;

    private int List(ModelsListOptions o)
    {
        var catalog = ModelSetup.Catalog(o.ModelDir, context);
        var cache = catalog.ModelDirs[^1];
        var rows = new List<string[]> { new[] { "NAME", "KIND", "SIZE", "TOP-1", "LICENCE", "WHERE" } };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var folder in catalog.Folders())
        {
            var name = System.IO.Path.GetFileName(folder);
            if (!seen.Add(name)) continue; // shadowed by an earlier folder of the search path
            ModelManifest m;
            try
            {
                m = ModelCatalog.Load(System.IO.Path.Combine(folder, ModelManifest.FileName));
            }
            catch (ClassifyException e)
            {
                rows.Add([name, "broken", "-", "-", "-", e.OneLine]);
                continue;
            }
            var kind = folder.StartsWith(cache, StringComparison.Ordinal) ? "downloaded"
                : folder.StartsWith(ModelCatalog.BundledModelDir(), StringComparison.Ordinal) ? "bundled" : "local";
            var file = m.Files.TryGetValue("onnx", out var onnx) ? onnx : m.Files.Values.First();
            var path = m.PathOf(file);
            var size = File.Exists(path) ? ModelCache.Describe(new FileInfo(path).Length) : "missing";
            rows.Add([name + (name == ModelCatalog.DefaultModel ? " (default)" : ""), kind, size, Top1(m.Top1), m.Licence ?? "-", folder]);
        }
        foreach (var e in catalog.Zoo?.Catalogue.Entries ?? [])
            if (!seen.Contains(e.Name))
                rows.Add([e.Name, "catalogue", ModelCache.Describe(e.Bytes), Top1(e.Top1), e.Licence ?? "-", $"classify models pull {e.Name}"]);
        var widths = Enumerable.Range(0, rows[0].Length - 1).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var r in rows)
            context.Out.WriteLine(string.Join("  ", r.Take(widths.Length).Select((c, i) => c.PadRight(widths[i]))) + "  " + r[^1]);
        return ExitCode.Success;
    }

    private static string Top1(double? top1) => top1 is { } t ? t.ToString("0.0", CultureInfo.InvariantCulture) + "%" : "-";

    private int Pull(ModelsPullOptions o, CancellationToken cancel)
    {
        var (found, entries) = Entries(o.Names);
        var puller = found.ForPull();
        foreach (var entry in entries)
        {
            var manifest = puller.Pull(entry, cancel, o.Force);
            context.Out.WriteLine(System.IO.Path.GetDirectoryName(manifest));
        }
        return ExitCode.Success;
    }

    private int Remove(ModelsRmOptions o)
    {
        var cache = ModelCache.ForUser(context.Environment);
        var zoo = ZooCatalogue.ForUser(ModelCatalog.BundledModelDir(), context.Environment);
        var status = ExitCode.Success;
        foreach (var name in o.Names)
        {
            var folderName = zoo?.Find(name)?.Name ?? name;
            if (folderName.IndexOfAny(['/', '\\']) >= 0 || folderName.StartsWith('.'))
                throw new ClassifyException(ExitCode.Usage, null, $"'{name}' is not a model name");
            if (cache.Remove(folderName))
                context.Error.WriteLine($"classify: removed {cache.FolderOf(folderName)}");
            else
            {
                context.Error.WriteLine($"classify: {name}: not in the cache {cache.ModelsDir} (bundled models cannot be removed)");
                status = ExitCode.ModelNotFound;
            }
        }
        return status;
    }

    private int Path(ModelsPathOptions o)
    {
        // Like `which a b`: a line per model found, in the order named; each one missing is named on stderr, exit 10.
        var catalog = ModelSetup.Catalog(o.ModelDir, context);
        var status = ExitCode.Success;
        foreach (var name in o.Names)
        {
            if (Installed(catalog, name) is { } manifest)
            {
                context.Out.WriteLine(manifest.Directory);
                continue;
            }
            context.Error.WriteLine("classify: " + (catalog.Zoo?.Catalogue.Find(name) is { } e
                ? $"model '{name}' is not downloaded: run 'classify models pull {e.Name}'"
                : $"unknown model '{name}' (classify models list)"));
            status = ExitCode.ModelNotFound;
        }
        return status;
    }

    private int Verify(ModelsVerifyOptions o)
    {
        var catalog = ModelSetup.Catalog(o.ModelDir, context);
        var names = o.Names.Any() ? o.Names.ToList() : catalog.Names().ToList();
        var status = ExitCode.Success;
        foreach (var name in names)
        {
            try
            {
                var manifest = Installed(catalog, name) ?? throw new ClassifyException(ExitCode.ModelNotFound, null, $"model '{name}' is not installed");
                foreach (var format in manifest.Files.Keys)
                    ModelCatalog.VerifiedFile(manifest, format);
                Labels.Load(manifest);
                context.Out.WriteLine($"ok  {manifest.Name}  {manifest.Directory}");
            }
            catch (ClassifyException e)
            {
                context.Out.WriteLine($"BAD {name}  {e.OneLine}");
                status = status == ExitCode.Success ? e.ExitCode : status;
            }
        }
        return status;
    }

    /// <summary>The manifest of an installed model (never downloads), catalogue aliases included.</summary>
    private static ModelManifest? Installed(ModelCatalog catalog, string name)
    {
        var folder = catalog.Zoo?.Catalogue.Find(name)?.Name ?? name;
        return catalog.ModelDirs.Select(d => System.IO.Path.Combine(d, folder, ModelManifest.FileName)).FirstOrDefault(File.Exists) is { } path
            ? ModelCatalog.Load(path)
            : null;
    }

    private (ModelPuller, List<ZooEntry>) Entries(IEnumerable<string> names)
    {
        var cache = ModelCache.ForUser(context.Environment);
        var zoo = ZooCatalogue.ForUser(ModelCatalog.BundledModelDir(), context.Environment)
            ?? throw new ClassifyException(ExitCode.ModelNotFound, null, $"no model catalogue ({ZooCatalogue.FileName} beside the bundled models, or ${ZooCatalogue.Variable})");
        var entries = names.Select(n => zoo.Find(n) ?? throw new ClassifyException(ExitCode.ModelNotFound, null,
            $"'{n}' is not in the catalogue (it has: {string.Join(", ", zoo.Entries.Select(e => e.Name))})")).ToList();
        return (ModelSetup.Puller(zoo, cache, context), entries);
    }
}
