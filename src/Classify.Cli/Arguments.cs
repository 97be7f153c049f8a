using System.Reflection;
using CommandLine;

namespace Classify.Cli;

/// <summary>
/// CommandLineParser with the manners users bring from GNU tools and classify_image.py. It stays the parser (the user
/// asked for it); around it: every long option in both spellings (--image_file and --image-file, --require-gpu and
/// --require_gpu) and short forms for the common ones, which 2.9.1 cannot alias itself, so arguments are respelled
/// to the declared name before parsing; help and version on standard output; a usage error in one line that names
/// the closest option, instead of the library's banner, copyright and whole help on standard error.
/// </summary>
internal static class Arguments
{
    private static readonly Dictionary<string, string> Short = new(StringComparer.Ordinal)
    {
        ["-n"] = "--num_top_predictions", ["-o"] = "--output", ["-f"] = "--format", ["-m"] = "--model",
        ["-b"] = "--batch_size", ["-h"] = "--help", ["-V"] = "--version", ["-0"] = "--null",
    };

    /// <summary>The long names <typeparamref name="T"/> declares.</summary>
    private static IReadOnlyList<string> LongNames<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(
        System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties)] T>() =>
        typeof(T).GetProperties().Select(p => p.GetCustomAttribute<OptionAttribute>()?.LongName).OfType<string>().ToList();

    /// <summary>The long names <typeparamref name="T"/> declares for options that take a value (not switches).</summary>
    private static IReadOnlySet<string> ValuedNames<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(
        System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties)] T>() =>
        typeof(T).GetProperties().Where(p => p.PropertyType != typeof(bool))
            .Select(p => p.GetCustomAttribute<OptionAttribute>()?.LongName).OfType<string>().ToHashSet(StringComparer.Ordinal);

    /// <summary>Short forms to long ones (a value attached as getopt allows: -n1, -fcsv), and each long option to its
    /// declared spelling; nothing after "--". An option
    /// that takes a value takes the next argument whatever it starts with, as getopt does: `--image_file -x.png` and
    /// `--image_file --help.png` name files (they are passed on as `--image_file=...`, which the parser cannot misread).</summary>
    internal static string[] Respell(string[] args, IReadOnlyList<string> longNames, IReadOnlySet<string>? valued = null)
    {
        var canonical = longNames.ToDictionary(n => n.Replace('-', '_'), n => n, StringComparer.Ordinal);
        var result = new List<string>(args.Length);
        var literal = false;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (literal || a == "--")
            {
                literal = true;
                result.Add(a);
                continue;
            }
            if (Short.TryGetValue(a, out var full))
                a = full;
            // getopt's attached value: -n1, -fcsv, -oout.csv.
            else if (a.Length > 2 && a[0] == '-' && a[1] != '-' && Short.TryGetValue(a[..2], out var valuedFull)
                && valued?.Contains(valuedFull[2..]) == true)
            {
                result.Add($"{valuedFull}={a[2..]}");
                continue;
            }
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var eq = a.IndexOf('=');
                var name = eq < 0 ? a[2..] : a[2..eq];
                if (canonical.TryGetValue(name.Replace('-', '_'), out var declared))
                {
                    a = "--" + declared + (eq < 0 ? "" : a[eq..]);
                    if (eq < 0 && valued?.Contains(declared) == true && i + 1 < args.Length && args[i + 1].StartsWith('-') && args[i + 1] != "-")
                        a += "=" + args[++i];
                }
            }
            result.Add(a);
        }
        return result.ToArray();
    }

    public static int Parse<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(
        System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties
        | System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(
        string[] args, string command, RunContext context, Func<T, int> run)
    {
        using var parser = new Parser(s =>
        {
            s.AllowMultiInstance = true;
            s.CaseInsensitiveEnumValues = true;
            s.EnableDashDash = true;
            s.HelpWriter = null;
        });
        var names = LongNames<T>();
        var result = parser.ParseArguments<T>(Respell(args, names, ValuedNames<T>()));
        return result.MapResult(run, errors => Failed(result, errors.ToList(), names, command, context));
    }

    private static int Failed<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(
        System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties
        | System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(ParserResult<T> result, List<Error> errors, IReadOnlyList<string> names, string command, RunContext context)
    {
        if (errors.Any(e => e is VersionRequestedError))
        {
            context.Out.WriteLine(Version);
            return ExitCode.Success;
        }
        if (errors.Any(e => e is HelpRequestedError or HelpVerbRequestedError))
        {
            context.Out.Write(Help<T>(command));
            return ExitCode.Success;
        }
        var see = command == "classify" ? "classify --help" : $"classify {command} --help";
        context.Error.WriteLine($"classify: {Describe(errors[0], names, typeof(T))}; see {see}");
        return ExitCode.Usage;
    }

    private static string Describe(Error error, IReadOnlyList<string> names, Type options) => error switch
    {
        UnknownOptionError u => $"unknown option {Dashes(u.Token)}" + (Closest(u.Token, names) is { } c ? $" (did you mean --{c}?)" : ""),
        BadFormatConversionError b when EnumOf(options, b.NameInfo.LongName) is { } e =>
            $"--{b.NameInfo.LongName} must be {string.Join(", ", Enum.GetNames(e).Select(n => n.ToLowerInvariant()))}",
        BadFormatConversionError b => $"--{b.NameInfo.LongName} has a value that is not a {(EnumOf(options, b.NameInfo.LongName) is null ? "valid" : "known")} one",
        MissingValueOptionError m => $"--{m.NameInfo.LongName} needs a value",
        MissingRequiredOptionError m when m.NameInfo.LongName.Length > 0 => $"--{m.NameInfo.LongName} is required",
        MissingRequiredOptionError => "a required argument is missing",
        SequenceOutOfRangeError s when s.NameInfo.LongName.Length > 0 => $"--{s.NameInfo.LongName}: too few or too many values",
        SequenceOutOfRangeError => "a file argument is missing",
        RepeatedOptionError r => $"--{r.NameInfo.LongName} is given twice",
        _ => error.Tag.ToString(),
    };

    /// <summary>The option a mistyped one most likely meant: one it begins (-i: --image_file), one that contains it
    /// (--top: --num_top_predictions), else one within two edits (--image-fil: --image_file).</summary>
    private static string? Closest(string token, IReadOnlyList<string> names)
    {
        var t = token.Replace('-', '_');
        return names.FirstOrDefault(n => n.Replace('-', '_').StartsWith(t, StringComparison.Ordinal))
            ?? (t.Length >= 3 ? names.FirstOrDefault(n => n.Replace('-', '_').Contains(t, StringComparison.Ordinal)) : null)
            ?? (Suggestions.Closest(t, names.Select(n => n.Replace('-', '_'))) is { } c ? names.First(n => n.Replace('-', '_') == c) : null);
    }

    private static string Dashes(string token) => token.Length == 1 ? "-" + token : "--" + token;

    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("Trimming", "IL2070", Justification =
        "The option types are rooted (TrimmerRootAssembly classify); CommandLineParser reads the same properties. " +
        "Run on the AOT binary by CommandLineTests.A_bad_value_names_the_valid_ones (scripts/ci/install-test.sh).")]
    private static Type? EnumOf(Type options, string longName)
    {
        var type = options.GetProperties().FirstOrDefault(p => p.GetCustomAttribute<OptionAttribute>()?.LongName == longName)?.PropertyType;
        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type is { IsEnum: true } ? type : null;
    }

    /// <summary>classify's version, the commit it was built from, and the ONNX Runtime and CUDA it expects.</summary>
    public static string Version
    {
        get
        {
            var (version, commit) = VersionAndCommit();
            return $"classify {version} (commit {commit ?? "unknown"}); ONNX Runtime {Backends.Onnx.OnnxBackendFactory.RuntimeVersion} (GPU package, built for CUDA 13 and cuDNN 9)";
        }
    }

    /// <summary>The version result files record (classify_version): the informational version with the commit cut to
    /// the 12 hex digits --version prints, "1.0.0+252f5c5eefc9"; the commit is what tells two builds of one version apart.</summary>
    public static string ResultVersion
    {
        get
        {
            var (version, commit) = VersionAndCommit();
            return commit is null ? version : $"{version}+{commit}";
        }
    }

    private static (string Version, string? Commit) VersionAndCommit()
    {
        var informational = typeof(Arguments).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var plus = informational.IndexOf('+');
        if (plus < 0)
            return (informational, null);
        var commit = informational[(plus + 1)..];
        return (informational[..plus], commit.Length > 12 ? commit[..12] : commit);
    }

    /// <summary>The short form of a long option, if it has one (-n for --num_top_predictions).</summary>
    internal static string? ShortFor(string longName) =>
        Short.FirstOrDefault(p => p.Value == "--" + longName).Key;

    private static string Help<[System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(
        System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicProperties
        | System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>(string command)
    {
        var verb = typeof(T).GetCustomAttribute<VerbAttribute>();
        if (command != "classify")
            return HelpWriter.Write<T>($"Usage: classify {command} {Usage.GetValueOrDefault(command, "[options]")}", verb?.HelpText, []);
        return HelpWriter.Write<T>("Usage: classify [PATH|-]... [options]        (classify_image.py's flags work as they are)", null,
        [
            "Commands: classify doctor (is a GPU usable, and why not), classify merge (join shard files),",
            "          classify eval (accuracy on labelled images), classify decode (the pixels classify sees),",
            "          classify bench (throughput),",
            "          classify models (list, pull, verify, path, rm, add); each takes --help.",
            "Exit codes: 0 ok, 2 usage, 3 image not found, 4 unsupported, 5 corrupt, 6 too large, 7 some images",
            "            failed, 8 input list unreadable, 9 decode timeout, 10-16 model/output/backend/download, 17 image",
            "            unreadable for now, 18 out of memory or files, 20 no GPU, 30 bad shards, 31 bad eval labels,",
            "            130 cancelled (README).",
            "Examples: classify cat.png                      classify photos/ -n 3 -o results.jsonl",
            "          find /data -name '*.jpg' | classify -  classify --image_dir photos --device cuda --batch_size 256",
            "          classify --shard 3/16 --image_list todo.txt -o out/results.{shard}.jsonl",
        ]);
    }

    private static readonly Dictionary<string, string> Usage = new(StringComparer.Ordinal)
    {
        ["merge"] = "--output FILE SHARD.jsonl...",
        ["eval"] = "DIR | --truth FILE [DIR] | --results FILE --truth FILE  [--json] [--model NAME] [--output FILE]",
        ["decode"] = "IMAGE --output OUT.ppm|-",
        ["doctor"] = "[--json] [--verbose] [--gpu N]",
        ["models pull"] = "NAME... [--force]",
        ["models verify"] = "[NAME...]",
        ["models path"] = "NAME...",
        ["models rm"] = "NAME...",
        ["models add"] = "FILE.onnx --preset torchvision|inception|caffe-bgr|tf-mobilenet [--labels FILE] [--name NAME]",
        ["models list"] = "[--model_dir DIR]",
        ["bench"] = "[--model NAME] [--device auto|cuda|cpu] [--batch_sizes 1,8,32] [--seconds S (per batch size)] [--images DIR] [--json]",
    };
}
