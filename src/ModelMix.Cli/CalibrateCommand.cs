using System.CommandLine;
using System.Globalization;
using ModelMix.Evaluation;
using ModelMix.Routing;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary><c>modelmix calibrate</c>: picks a learned router's thresholds on a dataset split and stores them in the file.</summary>
internal static class CalibrateCommand
{
    public static Command Create()
    {
        var routerFile = new Option<string>("--router") { Description = "The router file (from modelmix train); its thresholds are rewritten.", Required = true };
        var dataset = DatasetOptions.Dataset();
        var floor = DatasetOptions.Fraction("--quality-floor", "Keep at least this fraction of the top tier's quality, at the lowest cost (e.g. 0.95).");
        var share = DatasetOptions.Fraction("--strong-share", "Send at most this fraction of calls to the top tier, at the best quality (e.g. 0.3).");
        var confidence = new Option<double>("--confidence")
        {
            Description = "With --quality-floor: the one-sided confidence the floor must hold with on this data (its lower confidence bound; 0.5 = the plain estimate).",
            DefaultValueFactory = _ => RouterTraining.DefaultConfidence,
        };
        var split = DatasetOptions.Split("calibration");
        var seed = DatasetOptions.Seed();
        var command = new Command("calibrate", "Pick a learned router's thresholds on a dataset split (never the one it was trained on) and store them in the router file.")
        {
            routerFile, dataset, floor, share, confidence, split, seed,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var console = Output.Console(result.InvocationConfiguration.Output);
            var error = result.InvocationConfiguration.Error;
            try
            {
                var qualityFloor = result.GetValue(floor);
                var strongShare = result.GetValue(share);
                if ((qualityFloor is null) == (strongShare is null))
                {
                    error.WriteLine("modelmix calibrate: give exactly one of --quality-floor and --strong-share.");
                    return Task.FromResult(1);
                }

                var file = result.GetValue(routerFile)!;
                var router = LearnedRouter.Load(file);
                var path = result.GetValue(dataset)!;
                var records = DatasetOptions.Read(path, console);
                var calibration = RouterTraining.Calibrate(router, records, Path.GetFileName(path), DatasetSplitter.Parse(result.GetValue(split)!), result.GetValue(seed), qualityFloor, strongShare, result.GetValue(confidence));
                router.Save(file);
                console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"thresholds cheap {router.CheapThreshold:0.####}, mid {router.MidThreshold:0.####} on {calibration.Prompts} prompts of {calibration.Dataset} (split {calibration.Split}): quality {calibration.QualityPctOfTop:P1} of top{(calibration.Confidence is { } c ? $" (floor held at {c:P0} confidence)" : string.Empty)} at {calibration.CostPctOfTop:P1} of its cost{(calibration.Met ? string.Empty : " (target not reachable: routes everything to top)")} → {file}"));
                return Task.FromResult(0);
            }
            catch (Exception exception) when (exception is ArgumentOutOfRangeException or FormatException or IOException or InvalidOperationException or RoutingConfigurationException or UnauthorizedAccessException)
            {
                error.WriteLine("modelmix calibrate: " + exception.Message);
                return Task.FromResult(1);
            }
        });
        return command;
    }
}
