// Compares the hand-written logistic regression of the learned router with ML.NET's logistic regression and FastTree
// on the same hashed features and the same split (docs/evaluation.md, "Why a hand-written model"). A one-off
// experiment: timings are plain Stopwatch loops on a shared machine, not BenchmarkDotNet.
//
//   dotnet run -c Release --project bench/RouterComparison -- /work/shared/data/routerbench-train.jsonl
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using ModelMix.Evaluation;
using ModelMix.Routing;

var path = args.Length > 0 ? args[0] : "/work/shared/data/routerbench-train.jsonl";
const int Seed = 42;
var tiers = new EvaluationTiers("claude-instant-v1", "claude-v1", "gpt-4-1106-preview");
var records = RoutingDataset.Read(path).ToList();
var name = Path.GetFileName(path);
var train = EvaluationPrompt.Select(records, tiers, DatasetSplit.Train, Seed, out _);
var test = EvaluationPrompt.Select(records, tiers, DatasetSplit.Test, Seed, out _);
Console.WriteLine($"train {train.Count} prompts, test {test.Count} prompts");

// The hand-written model, trained and calibrated exactly as the docs' figures (floor 0.93, confidence 0.95).
var sw = Stopwatch.StartNew();
// v1's model (the pass/fail label, one linear scorer), as this comparison was run; v2 is bench/RouterCrossFit's.
var router = RouterTraining.Train(records, name, tiers, DatasetSplit.Train, Seed, new LearnedRouterTrainingOptions { GainTarget = false, TaskPriorFeature = false, Scorers = LearnedScorers.Linear });
var handTrain = sw.Elapsed;
RouterTraining.Calibrate(router, records, name, DatasetSplit.Calibration, Seed, 0.93, null);
var settings = router.Features;
var size = 1 << settings.HashBits;

// The same features for ML.NET.
var ml = new MLContext(seed: Seed);
var schema = SchemaDefinition.Create(typeof(Row));
schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
Row ToRow(EvaluationPrompt p, bool label)
{
    var sink = new Collect(new List<int>(), new List<float>(), new List<int>());
    LearnedFeatures.Extract(p.Record.Prompt.AsSpan(), p.Record.Task, settings, ref sink);
    var (index, value) = sink.ToVector();
    return new Row { Label = label, Features = new VBuffer<float>(size, index.Length, value, index) };
}

var heads = new (string Name, Func<EvaluationPrompt, bool> Label, Func<LearnedScore, double> Hand)[]
{
    ("cheap (instant ≥ top)", p => p.Quality[0] >= p.Quality[2], s => -s.CheapGain),
    ("mid (claude-v1 ≥ top)", p => p.Quality[1] >= p.Quality[2], s => -s.MidGain),
};
var trainers = new (string Name, Func<IEstimator<ITransformer>> Make)[]
{
    ("ML.NET LbfgsLogisticRegression", () => ml.BinaryClassification.Trainers.LbfgsLogisticRegression()),
    ("ML.NET SdcaLogisticRegression", () => ml.BinaryClassification.Trainers.SdcaLogisticRegression()),
    ("ML.NET FastTree (100 trees, 20 leaves)", () => ml.BinaryClassification.Trainers.FastTree()),
};

var handScores = test.Select(p => router.Score(p.Record.Prompt, p.Record.Task)).ToArray();
var results = new List<(string Model, string Head, double Auc)>();
var cheapScores = new Dictionary<string, double[]> { ["hand-written logistic regression"] = handScores.Select(s => -s.CheapGain).ToArray() };
var trainTimes = new Dictionary<string, TimeSpan> { ["hand-written logistic regression"] = handTrain };
var scoreTimes = new Dictionary<string, double>();
foreach (var head in heads)
{
    results.Add(("hand-written logistic regression", head.Name, Auc(handScores.Select(head.Hand).ToArray(), test.Select(head.Label).ToArray())));
}

foreach (var (trainerName, make) in trainers)
{
    var engines = new List<PredictionEngine<Row, Prediction>>();
    sw.Restart();
    foreach (var head in heads)
    {
        var data = ml.Data.LoadFromEnumerable(train.Select(p => ToRow(p, head.Label(p))).ToList(), schema);
        var model = make().Fit(data);
        engines.Add(ml.Model.CreatePredictionEngine<Row, Prediction>(model, inputSchemaDefinition: schema));
    }

    trainTimes[trainerName] = sw.Elapsed;
    for (var h = 0; h < heads.Length; h++)
    {
        var scores = test.Select(p => (double)engines[h].Predict(ToRow(p, false)).Score).ToArray();
        results.Add((trainerName, heads[h].Name, Auc(scores, test.Select(heads[h].Label).ToArray())));
        if (h == 0)
        {
            cheapScores[trainerName] = scores;
        }
    }

    // Per-request scoring: features from the text, then both heads (as the router does).
    scoreTimes[trainerName] = TimePerCall(p =>
    {
        var row = ToRow(p, false);
        _ = engines[0].Predict(row).Score + engines[1].Predict(row).Score;
    });
}

scoreTimes["hand-written logistic regression"] = TimePerCall(p => _ = router.Score(p.Record.Prompt, p.Record.Task));

// Where ML.NET's time goes: building the sparse row (this program's own allocation, not ML.NET's) vs Predict.
var featuresOnly = TimePerCall(p => _ = ToRow(p, false));

// The hand-written router's calibrated point on the test split.
decimal topCost = test.Sum(p => p.Cost[2]), routedCost = 0m;
double topQuality = test.Sum(p => p.Quality[2]), routedQuality = 0;
for (var i = 0; i < test.Count; i++)
{
    var tier = (int)router.Choose(handScores[i]);
    routedCost += test[i].Cost[tier];
    routedQuality += test[i].Quality[tier];
}

Console.WriteLine($"hand-written router, calibrated (floor 0.93) on calibration, on test: {Pct(routedQuality / topQuality)} of top quality at {Pct((double)(routedCost / topCost))} of top cost");
Console.WriteLine();
Console.WriteLine("| model | head | test AUC |");
Console.WriteLine("|---|---|---:|");
foreach (var (model, head, auc) in results)
{
    Console.WriteLine($"| {model} | {head} | {auc.ToString("0.000", CultureInfo.InvariantCulture)} |");
}

Console.WriteLine();
Console.WriteLine($"Cheap-vs-top by the cheap head's ranking, test split, at the hand-written router's cost ({Pct((double)(routedCost / topCost))} of top):");
Console.WriteLine("| model | % of top quality | training (2 heads) | scoring per request |");
Console.WriteLine("|---|---:|---:|---:|");
Console.WriteLine($"(building the ML.NET input row alone: {featuresOnly.ToString("0.0", CultureInfo.InvariantCulture)} µs per request, included in the ML.NET figures)");
foreach (var (model, scores) in cheapScores)
{
    Console.WriteLine($"| {model} | {Pct(AtCost(scores, routedCost) / topQuality)} | {trainTimes[model].TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s | {scoreTimes[model].ToString("0.0", CultureInfo.InvariantCulture)} µs |");
}

// Sends the prompts the model is surest about to the cheap tier (the rest to the top) while the cost stays within the budget.
double AtCost(double[] scores, decimal budget)
{
    var order = Enumerable.Range(0, test.Count).OrderByDescending(i => scores[i]).ToArray();
    var cost = topCost;
    var quality = topQuality;
    foreach (var i in order)
    {
        var next = cost - test[i].Cost[2] + test[i].Cost[0];
        if (cost <= budget)
        {
            break;
        }

        cost = next;
        quality += test[i].Quality[0] - test[i].Quality[2];
    }

    return quality;
}

double TimePerCall(Action<EvaluationPrompt> score)
{
    foreach (var p in test)
    {
        score(p);
    }

    const int Rounds = 20;
    var watch = Stopwatch.StartNew();
    for (var r = 0; r < Rounds; r++)
    {
        foreach (var p in test)
        {
            score(p);
        }
    }

    return watch.Elapsed.TotalMicroseconds / (Rounds * test.Count);
}

static string Pct(double x) => (100 * x).ToString("0.0", CultureInfo.InvariantCulture) + "%";

// Mann–Whitney AUC with ties counted half.
static double Auc(double[] scores, bool[] labels)
{
    var order = Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ToArray();
    double rankSum = 0;
    var positives = labels.Count(l => l);
    var negatives = labels.Length - positives;
    for (var k = 0; k < order.Length;)
    {
        var j = k;
        while (j + 1 < order.Length && scores[order[j + 1]] == scores[order[k]])
        {
            j++;
        }

        var rank = ((k + j) / 2.0) + 1;
        for (var m = k; m <= j; m++)
        {
            if (labels[order[m]])
            {
                rankSum += rank;
            }
        }

        k = j + 1;
    }

    return (rankSum - (positives * (positives + 1) / 2.0)) / ((double)positives * negatives);
}

internal sealed class Row
{
    public bool Label { get; set; }

    public VBuffer<float> Features { get; set; }
}

internal sealed class Prediction
{
    public float Score { get; set; }
}

// Collects one request's features as a sparse vector, text n-grams L2-normalised (as LearnedRouterTrainer does).
internal readonly struct Collect(List<int> index, List<float> value, List<int> text) : IFeatureSink
{
    public void Add(int i, float v)
    {
        index.Add(i);
        value.Add(v);
    }

    public void AddWord(int i) => text.Add(i);

    public void AddChar(int i) => text.Add(i);

    public (int[] Index, float[] Value) ToVector()
    {
        var scale = text.Count > 0 ? 1f / MathF.Sqrt(text.Count) : 0f;
        var merged = new SortedDictionary<int, float>();
        for (var k = 0; k < index.Count; k++)
        {
            merged[index[k]] = merged.GetValueOrDefault(index[k]) + value[k];
        }

        foreach (var i in text)
        {
            merged[i] = merged.GetValueOrDefault(i) + scale;
        }

        return ([.. merged.Keys], [.. merged.Values]);
    }
}
