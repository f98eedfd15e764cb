using System.CommandLine;
using System.Globalization;
using ModelMix.Evaluation;
using ModelMix.Routing;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary><c>modelmix train</c>: fits a learned router on a dataset's train split and writes router.json.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var dataset = DatasetOptions.Dataset();
        var cheap = DatasetOptions.Model("--cheap", "The dataset model of the cheap tier.", required: true);
        var mid = DatasetOptions.Model("--mid", "The dataset model of the middle tier (optional).", required: false);
        var top = DatasetOptions.Model("--top", "The dataset model of the top tier.", required: true);
        var output = new Option<string>("--out") { Description = "The router file to write.", DefaultValueFactory = _ => "router.json" };
        var split = DatasetOptions.Split("train");
        var seed = DatasetOptions.Seed();
        var trainingSeed = new Option<int>("--training-seed") { Description = "The seed of the example order.", DefaultValueFactory = _ => 1 };
        var command = new Command("train", "Fit a learned router (hashed text features, task label, structure markers; logistic regression) on a dataset's train split.")
        {
            dataset, cheap, mid, top, output, split, seed, trainingSeed,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var console = Output.Console(result.InvocationConfiguration.Output);
            try
            {
                var path = result.GetValue(dataset)!;
                var records = DatasetOptions.Read(path, console);
                var tiers = new EvaluationTiers(result.GetValue(cheap)!, result.GetValue(mid), result.GetValue(top)!);
                LearnedRouter? router = null;
                console.Status().Start("training", _ => router = RouterTraining.Train(
                    records, Path.GetFileName(path), tiers, DatasetSplitter.Parse(result.GetValue(split)!), result.GetValue(seed),
                    new LearnedRouterTrainingOptions { Seed = result.GetValue(trainingSeed) }));
                var file = result.GetValue(output)!;
                router!.Save(file);
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"trained on {router.Training!.Prompts} prompts of {router.Training.Dataset} (split {router.Training.Split}, seed {router.Training.Seed}; {router.Training.Skipped} skipped) → {file}"));
                console.WriteLine("next: modelmix calibrate --router " + file + " --dataset " + path + " --split calibration --quality-floor 0.95");
                return Task.FromResult(0);
            }
            catch (Exception exception) when (exception is FormatException or IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                result.InvocationConfiguration.Error.WriteLine("modelmix train: " + exception.Message);
                return Task.FromResult(1);
            }
        });
        return command;
    }
}
