using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelMix.Serialization;

namespace ModelMix.Routing;

/// <summary>
/// A trained router (<c>modelmix train</c>): per cheaper tier, the expected quality gap between the top tier and that
/// tier, predicted from hashed request features by a small ensemble (logistic regression over every feature, over
/// words only, and the task label's prior; training keeps only what beats one scorer out of fold). A tier is chosen
/// where its expected quality pays for its price: the tier with the smallest gap + λ · relative cost, λ (the price
/// of quality) picked by calibration; a middle tier that never pays is dropped. Loaded from a versioned JSON file;
/// scoring allocates nothing.
/// </summary>
public sealed class LearnedRouter
{
    /// <summary>The <c>format</c> value of a router file.</summary>
    public const string Format = "modelmix-router";

    /// <summary>
    /// The file version this code reads and writes. Version 3 predicts quality gaps (not pass/fail), chooses tiers by
    /// gap against price, and adds the task prior, the scorers and the evidence; a version-1 or -2 file is refused,
    /// naming its version.
    /// </summary>
    public const int CurrentVersion = 3;

    /// <summary>The price of quality until calibrated.</summary>
    public const double DefaultPriceOfQuality = 0.5;

    private readonly float[] _weights; // per hashed feature: linear cheap, linear mid (and words cheap, words mid when there are words heads)
    private readonly float[] _bias;
    private readonly float[] _priorWeight;

    /// <summary>Creates a router.</summary>
    /// <param name="features">The feature settings.</param>
    /// <param name="tiers">The dataset model of each tier (cheap, optional mid, top).</param>
    /// <param name="cheap">The linear scorer's top-minus-cheap head.</param>
    /// <param name="mid">The linear scorer's top-minus-mid head, or null for a two-tier router.</param>
    /// <param name="cheapWords">The words scorer's top-minus-cheap head, when it has one.</param>
    /// <param name="midWords">The words scorer's top-minus-mid head (with a middle tier and a words scorer).</param>
    /// <param name="prior">The per-task prior; none when null.</param>
    /// <param name="scorers">The scorers averaged.</param>
    /// <exception cref="RoutingConfigurationException">The parts do not fit together.</exception>
    internal LearnedRouter(
        LearnedFeatureSettings features,
        LearnedRouterTiers tiers,
        LearnedRouterHead cheap,
        LearnedRouterHead? mid,
        LearnedRouterHead? cheapWords = null,
        LearnedRouterHead? midWords = null,
        LearnedTaskPrior? prior = null,
        LearnedScorers scorers = LearnedScorers.Linear)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(tiers);
        ArgumentNullException.ThrowIfNull(cheap);
        features.Validate("router");
        var size = 1 << features.HashBits;
        foreach (var head in new[] { cheap, mid, cheapWords, midWords })
        {
            if (head is not null && head.Weights.Length != size)
            {
                throw new RoutingConfigurationException($"router: a head has the wrong number of weights (expected 2^{features.HashBits} = {size}).");
            }
        }

        if ((mid is null) != (tiers.Mid is null) || (midWords is not null && mid is null))
        {
            throw new RoutingConfigurationException("router: a mid head needs a mid tier and the other way round.");
        }

        if (scorers == 0 || ((int)scorers & ~7) != 0)
        {
            throw new RoutingConfigurationException("router: it needs at least one known scorer (linear, words, task-prior).");
        }

        if (scorers.HasFlag(LearnedScorers.Words) && (cheapWords is null || (mid is not null && midWords is null)))
        {
            throw new RoutingConfigurationException("router: the words scorer needs its heads.");
        }

        Features = features;
        Tiers = tiers;
        Cheap = cheap;
        Mid = mid;
        CheapWords = cheapWords;
        MidWords = midWords;
        Prior = prior ?? LearnedTaskPrior.Empty;
        Scorers = scorers;

        // Every head's weight of a feature side by side, so one feature costs one cache line, not four; without words
        // heads, only the two linear ones (half the memory, and a scorer that reads two weights per feature).
        var stride = cheapWords is null ? 2 : 4;
        _weights = new float[stride * size];
        for (var i = 0; i < size; i++)
        {
            _weights[stride * i] = cheap.Weights[i];
            _weights[(stride * i) + 1] = mid?.Weights[i] ?? 0f;
            if (stride == 4)
            {
                _weights[(stride * i) + 2] = cheapWords!.Weights[i];
                _weights[(stride * i) + 3] = midWords?.Weights[i] ?? 0f;
            }
        }

        _bias = [cheap.Bias, mid?.Bias ?? 0f, cheapWords?.Bias ?? 0f, midWords?.Bias ?? 0f];
        _priorWeight = [cheap.PriorWeight, mid?.PriorWeight ?? 0f, cheapWords?.PriorWeight ?? 0f, midWords?.PriorWeight ?? 0f];
    }

    /// <summary>The feature settings.</summary>
    internal LearnedFeatureSettings Features { get; }

    /// <summary>The dataset model of each tier.</summary>
    internal LearnedRouterTiers Tiers { get; }

    /// <summary>The linear scorer's top-minus-cheap head.</summary>
    internal LearnedRouterHead Cheap { get; }

    /// <summary>The linear scorer's top-minus-mid head; null for a two-tier router.</summary>
    internal LearnedRouterHead? Mid { get; }

    /// <summary>The words scorer's top-minus-cheap head, when it has one.</summary>
    internal LearnedRouterHead? CheapWords { get; }

    /// <summary>The words scorer's top-minus-mid head, when it has one.</summary>
    internal LearnedRouterHead? MidWords { get; }

    /// <summary>The per-task prior.</summary>
    internal LearnedTaskPrior Prior { get; }

    /// <summary>The scorers whose predictions are averaged.</summary>
    internal LearnedScorers Scorers { get; }

    /// <summary>Each tier's cost relative to the top's, from the training data.</summary>
    internal LearnedTierCosts TierCosts { get; set; } = LearnedTierCosts.Default;

    /// <summary>
    /// λ, the price of quality: a cheaper tier is chosen when its expected quality gap is smaller than λ times what it
    /// saves (as a fraction of the top's cost). Picked by calibration to hold a quality floor at the lowest cost.
    /// </summary>
    public double PriceOfQuality { get; set; } = DefaultPriceOfQuality;

    /// <summary>Whether calibration dropped the middle tier because it never paid for its price.</summary>
    public bool MidDropped { get; set; }

    /// <summary>What the router was trained on.</summary>
    internal LearnedRouterProvenance? Training { get; init; }

    /// <summary>Where the price of quality was picked; null until calibrated.</summary>
    internal LearnedRouterCalibration? Calibration { get; set; }

    /// <summary>What the router is known to be worth against random routing; null until measured.</summary>
    internal LearnedRouterEvidence? Evidence { get; set; }

    /// <summary>Whether requests can go to the middle tier (it exists and was not dropped).</summary>
    public bool UsesMid => Mid is not null && !MidDropped;

    /// <summary>Scores a request: the expected quality gaps between the top tier and the cheaper ones. Allocation-free.</summary>
    /// <param name="text">The request text.</param>
    /// <param name="task">The task label, or null.</param>
    internal LearnedScore Score(ReadOnlySpan<char> text, string? task) => ScoreParts(text, task).Combine(Scorers, Mid is not null);

    /// <summary>Each scorer's prediction of the target, (gap + 1) / 2, for both heads (training compares them out of fold).</summary>
    internal LearnedScoreParts ScoreParts(ReadOnlySpan<char> text, string? task)
    {
        ScoreSink sink;
        if (CheapWords is null)
        {
            var pairs = new PairSink(_weights);
            LearnedFeatures.Extract(text, task, Features, ref pairs);
            sink = pairs.Sums;
        }
        else
        {
            sink = new ScoreSink(_weights);
            LearnedFeatures.Extract(text, task, Features, ref sink);
        }

        var (priorCheap, priorMid) = Prior.Lookup(task);
        var yCheap = (priorCheap + 1) / 2;
        var yMid = (priorMid + 1) / 2;
        var logitCheap = PriorLogit(yCheap);
        var logitMid = PriorLogit(yMid);
        var all = sink.Words + sink.Chars;
        var scaleAll = all > 0 ? 1f / MathF.Sqrt(all) : 0f;
        var scaleWords = sink.Words > 0 ? 1f / MathF.Sqrt(sink.Words) : 0f;
        return new LearnedScoreParts(
            Sigmoid(_bias[0] + sink.MetaCheap + ((sink.WordCheap + sink.CharCheap) * scaleAll) + (_priorWeight[0] * logitCheap)),
            Mid is null ? 0 : Sigmoid(_bias[1] + sink.MetaMid + ((sink.WordMid + sink.CharMid) * scaleAll) + (_priorWeight[1] * logitMid)),
            CheapWords is null ? 0 : Sigmoid(_bias[2] + sink.MetaCheapWords + (sink.WordCheapWords * scaleWords) + (_priorWeight[2] * logitCheap)),
            MidWords is null ? 0 : Sigmoid(_bias[3] + sink.MetaMidWords + (sink.WordMidWords * scaleWords) + (_priorWeight[3] * logitMid)),
            yCheap,
            Mid is null ? 0 : yMid);
    }

    /// <summary>The tier for a score at the router's price of quality.</summary>
    /// <param name="score">The request's score.</param>
    internal LearnedTier Choose(LearnedScore score) => Choose(score, PriceOfQuality, UsesMid);

    /// <summary>
    /// The tier for a score at a given price of quality (calibration sweeps it): the tier with the smallest expected
    /// gap + λ · relative cost, the cheaper one on a tie.
    /// </summary>
    /// <param name="score">The request's score.</param>
    /// <param name="priceOfQuality">λ.</param>
    /// <param name="useMid">Whether the middle tier may be chosen.</param>
    internal LearnedTier Choose(LearnedScore score, double priceOfQuality, bool useMid)
    {
        var tier = LearnedTier.Cheap;
        var best = score.CheapGain + (priceOfQuality * TierCosts.Cheap);
        if (useMid && Mid is not null)
        {
            var mid = score.MidGain + (priceOfQuality * TierCosts.Mid);
            if (mid < best)
            {
                best = mid;
                tier = LearnedTier.Mid;
            }
        }

        return priceOfQuality < best ? LearnedTier.Top : tier;
    }

    /// <summary>The same heads, prior and settings with other scorers averaged (cross-fitting's choice).</summary>
    internal LearnedRouter WithScorers(LearnedScorers scorers, LearnedRouterProvenance? training) =>
        new(Features, Tiers, Cheap, Mid, (scorers & LearnedScorers.Words) != 0 ? CheapWords : null, (scorers & LearnedScorers.Words) != 0 ? MidWords : null, Prior, scorers)
        {
            Training = training ?? Training,
            TierCosts = TierCosts,
            PriceOfQuality = PriceOfQuality,
        };

    /// <summary>Sets the tiers' relative costs and returns the router (training's last step).</summary>
    internal LearnedRouter WithCosts(LearnedTierCosts costs)
    {
        TierCosts = costs;
        return this;
    }

    internal static double Sigmoid(double z) => 1.0 / (1.0 + Math.Exp(-z));

    /// <summary>The log-odds of a prior target, clipped to [0.01, 0.99] (the feature the linear scorers see).</summary>
    internal static float PriorLogit(double y)
    {
        var p = Math.Clamp(y, 0.01, 0.99);
        return (float)Math.Log(p / (1 - p));
    }

    /// <summary>The names of a scorer combination as written in the file (<c>linear</c>, <c>words</c>, <c>task-prior</c>).</summary>
    internal static string ScorerNames(LearnedScorers scorers) => string.Join("+", ScorerList(scorers));

    private static IEnumerable<string> ScorerList(LearnedScorers scorers)
    {
        if ((scorers & LearnedScorers.Linear) != 0)
        {
            yield return "linear";
        }

        if ((scorers & LearnedScorers.Words) != 0)
        {
            yield return "words";
        }

        if ((scorers & LearnedScorers.TaskPrior) != 0)
        {
            yield return "task-prior";
        }
    }

    /// <summary>Reads a router file.</summary>
    /// <param name="path">The router JSON file; named in errors.</param>
    /// <exception cref="RoutingConfigurationException">The file is missing, unreadable, of another version, or invalid.</exception>
    public static LearnedRouter Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RoutingConfigurationException($"Cannot read the router file '{path}': {ex.Message}", ex);
        }

        return Parse(json, path);
    }

    /// <summary>Parses router JSON.</summary>
    /// <param name="json">The document.</param>
    /// <param name="source">Where it came from, for errors.</param>
    /// <exception cref="RoutingConfigurationException">The document is not a valid router of this version.</exception>
    public static LearnedRouter Parse(string json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new RoutingConfigurationException($"The router file '{source}' is not valid JSON: {ex.Message}", ex);
        }

        try
        {
            if (root is not JsonObject o || (string?)o["format"] != Format)
            {
                throw new RoutingConfigurationException($"'{source}' is not a ModelMix router file (its \"format\" must be \"{Format}\"; create one with modelmix train).");
            }

            var version = (int?)o["version"] ?? 0;
            if (version != CurrentVersion)
            {
                var why = version switch
                {
                    1 => " (version 2 changed the feature hashing, so version-1 weights cannot be reused)",
                    2 => " (version 3 predicts quality gaps and chooses tiers by gap against price, so version-2 pass/fail heads cannot be reused)",
                    _ => string.Empty,
                };
                throw new RoutingConfigurationException($"The router file '{source}' has version {version}; this ModelMix reads version {CurrentVersion} only{why}; retrain it with modelmix train.");
            }

            var f = o["features"] as JsonObject ?? throw Missing(source, "features");
            var features = new LearnedFeatureSettings((int)f["hash_bits"]!, (int)f["word_ngrams"]!, (int)f["char_ngrams"]!, (int)f["max_chars"]!);
            features.Validate(source);
            var t = o["tiers"] as JsonObject ?? throw Missing(source, "tiers");
            var tiers = new LearnedRouterTiers((string?)t["cheap"] ?? throw Missing(source, "tiers.cheap"), (string?)t["mid"], (string?)t["top"] ?? throw Missing(source, "tiers.top"));
            var heads = o["heads"] as JsonObject ?? throw Missing(source, "heads");
            var cheap = ReadHead(heads["cheap"], source, "heads.cheap", features.HashBits);
            var mid = heads["mid"] is null ? null : ReadHead(heads["mid"], source, "heads.mid", features.HashBits);
            var cheapWords = heads["cheap_words"] is null ? null : ReadHead(heads["cheap_words"], source, "heads.cheap_words", features.HashBits);
            var midWords = heads["mid_words"] is null ? null : ReadHead(heads["mid_words"], source, "heads.mid_words", features.HashBits);
            var scorers = ReadScorers(o["scorers"], source);
            var costs = o["tier_costs"] as JsonObject;
            var choice = o["choice"] as JsonObject;
            var router = new LearnedRouter(features, tiers, cheap, mid, cheapWords, midWords, ReadPrior(o["prior"], source), scorers)
            {
                Training = o["training"]?.Deserialize(LearnedRouterJsonContext.Default.LearnedRouterProvenance),
                Calibration = o["calibration"]?.Deserialize(LearnedRouterJsonContext.Default.LearnedRouterCalibration),
                Evidence = o["evidence"]?.Deserialize(LearnedRouterJsonContext.Default.LearnedRouterEvidence),
                TierCosts = costs is null ? LearnedTierCosts.Default : new LearnedTierCosts(Fraction(costs["cheap"], source, "tier_costs.cheap"), Fraction(costs["mid"], source, "tier_costs.mid")),
                PriceOfQuality = choice?["price_of_quality"] is { } price ? NonNegative(price, source, "choice.price_of_quality") : DefaultPriceOfQuality,
                MidDropped = (bool?)choice?["mid_dropped"] ?? false,
            };
            return router;
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or JsonException or NullReferenceException or ArgumentException)
        {
            throw new RoutingConfigurationException($"The router file '{source}' is invalid: {ex.Message}", ex);
        }
    }

    /// <summary>Writes the router as versioned JSON (weights as base64 little-endian float32).</summary>
    /// <param name="path">The file to write.</param>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        File.WriteAllText(path, ToJson());
    }

    /// <summary>The router as versioned JSON.</summary>
    public string ToJson()
    {
        var heads = new JsonObject { ["cheap"] = WriteHead(Cheap) };
        if (Mid is not null)
        {
            heads["mid"] = WriteHead(Mid);
        }

        if (CheapWords is not null)
        {
            heads["cheap_words"] = WriteHead(CheapWords);
        }

        if (MidWords is not null)
        {
            heads["mid_words"] = WriteHead(MidWords);
        }

        var tasks = new JsonObject();
        foreach (var (name, entry) in Prior.Tasks.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            tasks[name] = new JsonObject { ["n"] = entry.Count, ["cheap"] = entry.CheapGain, ["mid"] = entry.MidGain };
        }

        var root = new JsonObject
        {
            ["format"] = Format,
            ["version"] = CurrentVersion,
            ["model"] = "logistic-regression ensemble, quality gap against price",
            ["tiers"] = new JsonObject { ["cheap"] = Tiers.Cheap, ["mid"] = Tiers.Mid, ["top"] = Tiers.Top },
            ["tier_costs"] = new JsonObject { ["cheap"] = TierCosts.Cheap, ["mid"] = TierCosts.Mid },
            ["features"] = new JsonObject
            {
                ["hash_bits"] = Features.HashBits,
                ["word_ngrams"] = Features.WordNgrams,
                ["char_ngrams"] = Features.CharNgrams,
                ["max_chars"] = Features.MaxChars,
            },
            ["scorers"] = new JsonArray([.. ScorerList(Scorers).Select(s => (JsonNode)JsonValue.Create(s))]),
            ["choice"] = new JsonObject { ["price_of_quality"] = PriceOfQuality, ["mid_dropped"] = MidDropped },
            ["prior"] = new JsonObject { ["strength"] = Prior.Strength, ["cheap"] = Prior.CheapGain, ["mid"] = Prior.MidGain, ["tasks"] = tasks },
            ["training"] = Training is null ? null : JsonSerializer.SerializeToNode(Training, LearnedRouterJsonContext.Default.LearnedRouterProvenance),
            ["calibration"] = Calibration is null ? null : JsonSerializer.SerializeToNode(Calibration, LearnedRouterJsonContext.Default.LearnedRouterCalibration),
            ["evidence"] = Evidence is null ? null : JsonSerializer.SerializeToNode(Evidence, LearnedRouterJsonContext.Default.LearnedRouterEvidence),
            ["heads"] = heads,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }


    private static JsonObject WriteHead(LearnedRouterHead head) => new()
    {
        ["bias"] = head.Bias,
        ["prior_weight"] = head.PriorWeight,
        ["weights"] = Convert.ToBase64String(MemoryMarshal.AsBytes(head.Weights.AsSpan())),
    };

    private static LearnedRouterHead ReadHead(JsonNode? node, string source, string key, int bits)
    {
        if (node is not JsonObject head)
        {
            throw Missing(source, key);
        }

        var bytes = Convert.FromBase64String((string?)head["weights"] ?? throw Missing(source, key + ".weights"));
        if (bytes.Length != (1 << bits) * sizeof(float))
        {
            throw new RoutingConfigurationException($"The router file '{source}': {key}.weights holds {bytes.Length / sizeof(float)} weights; hash_bits {bits} needs {1 << bits}.");
        }

        var weights = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        var bias = (float?)head["bias"] ?? throw Missing(source, key + ".bias");
        var prior = (float?)head["prior_weight"] ?? 0f;
        if (!float.IsFinite(bias) || !float.IsFinite(prior) || weights.Any(w => !float.IsFinite(w)))
        {
            throw new RoutingConfigurationException($"The router file '{source}': {key} holds a non-finite weight.");
        }

        return new LearnedRouterHead(bias, weights, prior);
    }

    private static LearnedScorers ReadScorers(JsonNode? node, string source)
    {
        if (node is null)
        {
            return LearnedScorers.Linear;
        }

        var scorers = (LearnedScorers)0;
        foreach (var item in node.AsArray())
        {
            scorers |= (string?)item switch
            {
                "linear" => LearnedScorers.Linear,
                "words" => LearnedScorers.Words,
                "task-prior" => LearnedScorers.TaskPrior,
                var other => throw new RoutingConfigurationException($"The router file '{source}': scorers holds '{other}'; known scorers are linear, words and task-prior."),
            };
        }

        return scorers;
    }

    private static LearnedTaskPrior ReadPrior(JsonNode? node, string source)
    {
        if (node is not JsonObject prior)
        {
            return LearnedTaskPrior.Empty;
        }

        var tasks = new Dictionary<string, LearnedTaskPriorEntry>(StringComparer.OrdinalIgnoreCase);
        if (prior["tasks"] is JsonObject list)
        {
            foreach (var (name, value) in list)
            {
                var entry = value as JsonObject ?? throw Missing(source, "prior.tasks." + name);
                tasks[name] = new LearnedTaskPriorEntry((int?)entry["n"] ?? 0, Gap(entry["cheap"], source, $"prior.tasks.{name}.cheap"), Gap(entry["mid"], source, $"prior.tasks.{name}.mid"));
            }
        }

        return new LearnedTaskPrior(Gap(prior["cheap"], source, "prior.cheap"), Gap(prior["mid"], source, "prior.mid"), (double?)prior["strength"] ?? 0, tasks);
    }

    private static double Gap(JsonNode? node, string source, string key)
    {
        var value = node is null ? 0 : (double)node;
        return value is >= -1.0000001 and <= 1.0000001
            ? value
            : throw new RoutingConfigurationException(string.Create(CultureInfo.InvariantCulture, $"The router file '{source}': {key} is {value}; a quality gap lies between -1 and 1."));
    }

    private static double Fraction(JsonNode? node, string source, string key)
    {
        var value = node is null ? throw Missing(source, key) : (double)node;
        return value is >= 0 and <= 1.0000001
            ? value
            : throw new RoutingConfigurationException(string.Create(CultureInfo.InvariantCulture, $"The router file '{source}': {key} is {value}; a tier's cost relative to the top's lies between 0 and 1."));
    }

    private static double NonNegative(JsonNode node, string source, string key)
    {
        var value = (double)node;
        return value >= 0 && double.IsFinite(value)
            ? value
            : throw new RoutingConfigurationException(string.Create(CultureInfo.InvariantCulture, $"The router file '{source}': {key} is {value}; it must be a finite number ≥ 0."));
    }

    private static RoutingConfigurationException Missing(string source, string key) =>
        new($"The router file '{source}' lacks '{key}'.");

    private struct ScoreSink(float[] weights) : IFeatureSink
    {
        public float MetaCheap;
        public float MetaMid;
        public float MetaCheapWords;
        public float MetaMidWords;
        public float WordCheap;
        public float WordMid;
        public float WordCheapWords;
        public float WordMidWords;
        public float CharCheap;
        public float CharMid;
        public int Words;
        public int Chars;

        public void Add(int index, float value)
        {
            var at = 4 * index;
            MetaCheap += weights[at] * value;
            MetaMid += weights[at + 1] * value;
            MetaCheapWords += weights[at + 2] * value;
            MetaMidWords += weights[at + 3] * value;
        }

        public void AddWord(int index)
        {
            var at = 4 * index;
            Words++;
            WordCheap += weights[at];
            WordMid += weights[at + 1];
            WordCheapWords += weights[at + 2];
            WordMidWords += weights[at + 3];
        }

        public void AddChar(int index)
        {
            var at = 4 * index;
            Chars++;
            CharCheap += weights[at];
            CharMid += weights[at + 1];
        }
    }

    // The linear heads only (a router without words heads): two weights per feature.
    private struct PairSink(float[] weights) : IFeatureSink
    {
        public ScoreSink Sums;

        public void Add(int index, float value)
        {
            var at = 2 * index;
            Sums.MetaCheap += weights[at] * value;
            Sums.MetaMid += weights[at + 1] * value;
        }

        public void AddWord(int index)
        {
            var at = 2 * index;
            Sums.Words++;
            Sums.WordCheap += weights[at];
            Sums.WordMid += weights[at + 1];
        }

        public void AddChar(int index)
        {
            var at = 2 * index;
            Sums.Chars++;
            Sums.CharCheap += weights[at];
            Sums.CharMid += weights[at + 1];
        }
    }
}
