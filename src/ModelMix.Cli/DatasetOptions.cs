using System.CommandLine;
using ModelMix.Evaluation;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>Options the dataset commands (eval, train, calibrate) share.</summary>
internal static class DatasetOptions
{
    public static Option<string> Dataset() => new("--dataset")
    {
        Description = "A routing dataset (.jsonl, the format of shared/data/README.md or modelmix export --shadow).",
        Required = true,
    };

    public static Option<string> Model(string name, string description, bool required) => new(name) { Description = description, Required = required };

    public static Option<string> Split(string defaultSplit) => new Option<string>("--split")
    {
        Description = $"The part of the dataset to use: all, train (60%), calibration (20%), test (20%) or development (train + calibration), by a seeded hash of each id. Default {defaultSplit}.",
        DefaultValueFactory = _ => defaultSplit,
    }.AcceptOnlyFromAmong("all", "train", "calibration", "test", "development");

    public static Option<double> Confidence() => new("--confidence")
    {
        Description = "With --quality-floor: the one-sided confidence the floor must hold with on this data (its lower confidence bound; 0.5 = the plain estimate).",
        DefaultValueFactory = _ => RouterTraining.DefaultConfidence,
    };

    public static Option<bool> InDomain() => new("--in-domain")
    {
        Description = "Declare the dataset the deployment's own traffic (shadow pairs from modelmix export --shadow count without it): the proxy serves auto-learned only from in-domain evidence that beats random.",
    };

    public static Option<int> Seed() => new("--seed")
    {
        Description = "The split seed.",
        DefaultValueFactory = _ => DatasetSplitter.DefaultSeed,
    };

    public static Option<double?> Fraction(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
            if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value) && value is >= 0 and <= 1)
            {
                return value;
            }

            result.AddError($"{name}: '{text}' is not a fraction between 0 and 1 (e.g. 0.95).");
            return null;
        },
    };

    /// <summary>Reads a dataset with a progress bar on the given console.</summary>
    public static List<DatasetRecord> Read(string path, IAnsiConsole console)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The dataset '{path}' does not exist.", path);
        }

        var records = new List<DatasetRecord>();
        var size = Math.Max(1, new FileInfo(path).Length);
        console.Progress().AutoClear(true).Start(context =>
        {
            var task = context.AddTask("reading " + Path.GetFileName(path), maxValue: size);
            long done = 0;
            foreach (var record in RoutingDataset.Read(path))
            {
                records.Add(record);
                done += record.Prompt.Length + 200;
                task.Value = Math.Min(done, size);
            }

            task.Value = size;
        });
        return records;
    }
}
