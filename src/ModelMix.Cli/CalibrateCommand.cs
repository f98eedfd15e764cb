using System.CommandLine;
using System.Globalization;
using ModelMix.Evaluation;
using ModelMix.Routing;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix calibrate</c>: picks a learned router's price of quality on a dataset (out of fold on the data it was
/// cross-fitted on, or any data it did not see), stores it in the file with the evidence, and says whether the proxy
/// will serve it.
/// </summary>
internal static class CalibrateCommand
{
    public static Command Create()
    {
        var routerFile = new Option<string>("--router") { Description = "The router file (from modelmix train); its price of quality and evidence are rewritten.", Required = true };
        var dataset = DatasetOptions.Dataset();
        var floor = DatasetOptions.Fraction("--quality-floor", "Keep at least this fraction of the top tier's quality, at the lowest cost (e.g. 0.95).");
        var share = DatasetOptions.Fraction("--strong-share", "Send at most this fraction of calls to the top tier, at the best quality (e.g. 0.3).");
        var confidence = DatasetOptions.Confidence();
        var split = new Option<string?>("--split")
        {
            Description = "The part of the dataset to calibrate on (all, train, calibration, test, development). Default: the split the router was cross-fitted on when this is its dataset (its out-of-fold scores), else all.",
        }.AcceptOnlyFromAmong("all", "train", "calibration", "test", "development");
        var seed = DatasetOptions.Seed();
        var inDomain = DatasetOptions.InDomain();
        var command = new Command("calibrate", "Pick a learned router's price of quality on a dataset (out of fold on its own training data, or data it never saw), record APGR against random with a bootstrap interval, and store both in the router file.")
        {
            routerFile, dataset, floor, share, confidence, split, seed, inDomain,
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
                var name = Path.GetFileName(path);
                var records = DatasetOptions.Read(path, console);
                var splitName = result.GetValue(split)
                    ?? (router.Training is { Folds: >= 2 } t && string.Equals(t.Dataset, name, StringComparison.OrdinalIgnoreCase) ? t.Split : "all");
                LearnedRouterCalibration? calibration = null;
                console.Status().Start("calibrating", _ => calibration = RouterTraining.Calibrate(
                    router, records, name, DatasetSplitter.Parse(splitName), result.GetValue(seed), qualityFloor, strongShare, result.GetValue(confidence), result.GetValue(inDomain) ? true : null));
                router.Save(file);
                Describe(console, router, calibration!);
                console.WriteLine("→ " + file);
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

    /// <summary>Prints a calibration: the price of quality, the figures, the middle tier, the evidence and the proxy's verdict.</summary>
    internal static void Describe(IAnsiConsole console, LearnedRouter router, LearnedRouterCalibration calibration)
    {
        var shares = calibration.TierShares.Length == 3 ? string.Create(CultureInfo.InvariantCulture, $" (calls: cheap {calibration.TierShares[0]:P0}, mid {calibration.TierShares[1]:P0}, top {calibration.TierShares[2]:P0})") : string.Empty;
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"price of quality λ {router.PriceOfQuality:0.####} on {calibration.Prompts} prompts of {calibration.Dataset} (split {calibration.Split}, {calibration.Scores} scores): quality {calibration.QualityPctOfTop:P1} of top{(calibration.Confidence is { } c ? $" (floor held at {c:P0} confidence)" : string.Empty)} at {calibration.CostPctOfTop:P1} of its cost{shares}{(calibration.Met ? string.Empty : " (target not reachable on this data)")}"));
        if (calibration.MidDropped is { } dropped)
        {
            console.WriteLine("middle tier dropped: " + dropped);
        }

        if (router.Evidence is { } evidence)
        {
            console.WriteLine("against random: " + evidence.Describe());
        }

        var (allowed, reason) = LearnedRouterGuard.Check(router);
        console.WriteLine(allowed
            ? "the proxy will serve auto-learned from this router (" + reason + ")"
            : "the proxy will refuse auto-learned from this router unless ModelMix:LearnedRouter:Force is true: " + reason);
    }
}
