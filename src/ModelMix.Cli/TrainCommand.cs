using System.CommandLine;
using System.Globalization;
using ModelMix.Evaluation;
using ModelMix.Routing;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix train</c>: cross-fits a learned router on a dataset (all of it by default), keeps the scorers that win
/// out of fold, refits on everything and writes router.json; with <c>--quality-floor</c> or <c>--strong-share</c> it
/// also calibrates on the out-of-fold scores and records the evidence.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var dataset = DatasetOptions.Dataset();
        var cheap = DatasetOptions.Model("--cheap", "The dataset model of the cheap tier.", required: true);
        var mid = DatasetOptions.Model("--mid", "The dataset model of the middle tier (optional).", required: false);
        var top = DatasetOptions.Model("--top", "The dataset model of the top tier.", required: true);
        var output = new Option<string>("--out") { Description = "The router file to write.", DefaultValueFactory = _ => "router.json" };
        var split = DatasetOptions.Split("all");
        var seed = DatasetOptions.Seed();
        var folds = new Option<int>("--folds") { Description = "Cross-fitting folds (2 to 20): each prompt is scored by a model fitted on the other folds.", DefaultValueFactory = _ => 5 };
        var trainingSeed = new Option<int>("--training-seed") { Description = "The seed of the example order.", DefaultValueFactory = _ => 1 };
        var floor = DatasetOptions.Fraction("--quality-floor", "Also calibrate on the out-of-fold scores: keep at least this fraction of the top tier's quality, at the lowest cost.");
        var share = DatasetOptions.Fraction("--strong-share", "Also calibrate on the out-of-fold scores: send at most this fraction of calls to the top tier.");
        var confidence = DatasetOptions.Confidence();
        var inDomain = DatasetOptions.InDomain();
        var command = new Command("train", "Cross-fit a learned router (hashed text features, task label and prior; logistic regression ensemble) on a dataset, refit on all of it, and optionally calibrate it out of fold.")
        {
            dataset, cheap, mid, top, output, split, seed, folds, trainingSeed, floor, share, confidence, inDomain,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var console = Output.Console(result.InvocationConfiguration.Output);
            var error = result.InvocationConfiguration.Error;
            try
            {
                var qualityFloor = result.GetValue(floor);
                var strongShare = result.GetValue(share);
                if (qualityFloor is not null && strongShare is not null)
                {
                    error.WriteLine("modelmix train: give at most one of --quality-floor and --strong-share.");
                    return Task.FromResult(1);
                }

                var path = result.GetValue(dataset)!;
                var records = DatasetOptions.Read(path, console);
                var tiers = new EvaluationTiers(result.GetValue(cheap)!, result.GetValue(mid), result.GetValue(top)!);
                var options = new LearnedRouterTrainingOptions { Seed = result.GetValue(trainingSeed), Folds = result.GetValue(folds) };
                RouterCrossFit? fit = null;
                console.Status().Start($"cross-fitting ({options.Folds} folds)", _ => fit = RouterTraining.CrossFit(
                    records, Path.GetFileName(path), tiers, DatasetSplitter.Parse(result.GetValue(split)!), result.GetValue(seed), options));
                var router = fit!.Router;
                var training = router.Training!;
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"cross-fitted on {training.Prompts} prompts of {training.Dataset} (split {training.Split}, seed {training.Seed}, {training.Folds} folds; {training.Skipped} skipped)"));
                console.WriteLine("out-of-fold APGR by scorers: " + string.Join(", ", fit.ScorerApgr.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value:0.000}")))
                    + $"; kept {LearnedRouter.ScorerNames(fit.Scorers)}");
                if (qualityFloor is not null || strongShare is not null)
                {
                    var calibration = RouterTraining.Calibrate(fit, qualityFloor, strongShare, result.GetValue(confidence), result.GetValue(inDomain) ? true : null);
                    CalibrateCommand.Describe(console, router, calibration);
                }

                var file = result.GetValue(output)!;
                router.Save(file);
                console.WriteLine("→ " + file);
                if (qualityFloor is null && strongShare is null)
                {
                    console.WriteLine("next: modelmix calibrate --router " + file + " --dataset " + path + " --quality-floor 0.95 (on its out-of-fold scores, or on your shadow pairs)");
                }

                return Task.FromResult(0);
            }
            catch (Exception exception) when (exception is ArgumentOutOfRangeException or FormatException or IOException or InvalidOperationException or UnauthorizedAccessException or RoutingConfigurationException)
            {
                error.WriteLine("modelmix train: " + exception.Message);
                return Task.FromResult(1);
            }
        });
        return command;
    }
}
