using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelMix.Routing;

/// <summary>
/// A trained router (<c>modelmix train</c>): logistic-regression heads over hashed request features that predict,
/// per request, whether the cheap (and middle) tier's answer matches the top tier's; thresholds picked by
/// <c>modelmix calibrate</c> turn the predictions into a tier. Loaded from a versioned JSON file; scoring allocates
/// nothing.
/// </summary>
public sealed class LearnedRouter
{
    /// <summary>The <c>format</c> value of a router file.</summary>
    public const string Format = "modelmix-router";

    /// <summary>
    /// The file version this code reads and writes. Version 2 changed the feature hashing (allocation-free, one pass
    /// over the lower-cased tail), so a version-1 file's weights mean nothing to it: such a file is refused, naming
    /// its version.
    /// </summary>
    public const int CurrentVersion = 2;

    /// <summary>The threshold both heads use until calibrated.</summary>
    public const double DefaultThreshold = 0.5;

    /// <summary>Creates a router.</summary>
    /// <param name="features">The feature settings.</param>
    /// <param name="tiers">The dataset model of each tier (cheap, optional mid, top).</param>
    /// <param name="cheap">The cheap-matches-top head.</param>
    /// <param name="mid">The mid-matches-top head, or null for a two-tier router.</param>
    public LearnedRouter(LearnedFeatureSettings features, LearnedRouterTiers tiers, LearnedRouterHead cheap, LearnedRouterHead? mid)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(tiers);
        ArgumentNullException.ThrowIfNull(cheap);
        features.Validate("router");
        var size = 1 << features.HashBits;
        if (cheap.Weights.Length != size || (mid is not null && mid.Weights.Length != size))
        {
            throw new RoutingConfigurationException($"router: a head has the wrong number of weights (expected 2^{features.HashBits} = {size}).");
        }

        if ((mid is null) != (tiers.Mid is null))
        {
            throw new RoutingConfigurationException("router: a mid head needs a mid tier and the other way round.");
        }

        Features = features;
        Tiers = tiers;
        Cheap = cheap;
        Mid = mid;

        // Both heads' weights side by side, so one feature costs one cache line, not two.
        _pairs = new float[2 * size];
        for (var i = 0; i < size; i++)
        {
            _pairs[2 * i] = cheap.Weights[i];
            _pairs[(2 * i) + 1] = mid?.Weights[i] ?? 0f;
        }
    }

    private readonly float[] _pairs;

    /// <summary>The feature settings.</summary>
    public LearnedFeatureSettings Features { get; }

    /// <summary>The dataset model of each tier.</summary>
    public LearnedRouterTiers Tiers { get; }

    /// <summary>The cheap-matches-top head.</summary>
    public LearnedRouterHead Cheap { get; }

    /// <summary>The mid-matches-top head; null for a two-tier router.</summary>
    public LearnedRouterHead? Mid { get; }

    /// <summary>Route to the cheap tier when its probability of matching the top is at least this.</summary>
    public double CheapThreshold { get; set; } = DefaultThreshold;

    /// <summary>Otherwise route to the middle tier when its probability of matching the top is at least this.</summary>
    public double MidThreshold { get; set; } = DefaultThreshold;

    /// <summary>What the router was trained on.</summary>
    public LearnedRouterProvenance? Training { get; init; }

    /// <summary>Where the thresholds were picked; null until calibrated.</summary>
    public LearnedRouterCalibration? Calibration { get; set; }

    /// <summary>Scores a request: the probabilities that the cheap and middle tiers match the top tier.</summary>
    /// <param name="text">The request text.</param>
    /// <param name="task">The task label, or null.</param>
    public LearnedScore Score(ReadOnlySpan<char> text, string? task)
    {
        var sink = new ScoreSink(_pairs);
        LearnedFeatures.Extract(text, task, Features, ref sink);
        var scale = sink.TextCount > 0 ? 1f / MathF.Sqrt(sink.TextCount) : 0f;
        var cheap = Sigmoid(Cheap.Bias + sink.Cheap + (sink.CheapText * scale));
        var mid = Mid is null ? 0 : Sigmoid(Mid.Bias + sink.Mid + (sink.MidText * scale));
        return new LearnedScore(cheap, mid);
    }

    /// <summary>The tier for a score under the current thresholds.</summary>
    /// <param name="score">The request's score.</param>
    public LearnedTier Choose(LearnedScore score) => Choose(score, CheapThreshold, MidThreshold);

    /// <summary>The tier for a score under given thresholds (calibration sweeps them).</summary>
    /// <param name="score">The request's score.</param>
    /// <param name="cheapThreshold">The cheap head's threshold.</param>
    /// <param name="midThreshold">The mid head's threshold.</param>
    public LearnedTier Choose(LearnedScore score, double cheapThreshold, double midThreshold) =>
        score.CheapOk >= cheapThreshold ? LearnedTier.Cheap
        : Mid is not null && score.MidOk >= midThreshold ? LearnedTier.Mid
        : LearnedTier.Top;

    internal static double Sigmoid(double z) => 1.0 / (1.0 + Math.Exp(-z));

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
                throw new RoutingConfigurationException($"The router file '{source}' has version {version}; this ModelMix reads version {CurrentVersion} only{(version == 1 ? " (version 2 changed the feature hashing, so version-1 weights cannot be reused)" : "")}; retrain it with modelmix train.");
            }

            var f = o["features"] as JsonObject ?? throw Missing(source, "features");
            var features = new LearnedFeatureSettings((int)f["hash_bits"]!, (int)f["word_ngrams"]!, (int)f["char_ngrams"]!, (int)f["max_chars"]!);
            features.Validate(source);
            var t = o["tiers"] as JsonObject ?? throw Missing(source, "tiers");
            var tiers = new LearnedRouterTiers((string?)t["cheap"] ?? throw Missing(source, "tiers.cheap"), (string?)t["mid"], (string?)t["top"] ?? throw Missing(source, "tiers.top"));
            var heads = o["heads"] as JsonObject ?? throw Missing(source, "heads");
            var cheap = ReadHead(heads["cheap"], source, "heads.cheap", features.HashBits);
            var mid = heads["mid"] is null ? null : ReadHead(heads["mid"], source, "heads.mid", features.HashBits);
            var thresholds = o["thresholds"] as JsonObject;
            var router = new LearnedRouter(features, tiers, cheap, mid)
            {
                Training = o["training"]?.Deserialize<LearnedRouterProvenance>(s_json),
                Calibration = o["calibration"]?.Deserialize<LearnedRouterCalibration>(s_json),
                CheapThreshold = Threshold(thresholds?["cheap"], source, "thresholds.cheap"),
                MidThreshold = Threshold(thresholds?["mid"], source, "thresholds.mid"),
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

        var root = new JsonObject
        {
            ["format"] = Format,
            ["version"] = CurrentVersion,
            ["model"] = "logistic-regression",
            ["tiers"] = new JsonObject { ["cheap"] = Tiers.Cheap, ["mid"] = Tiers.Mid, ["top"] = Tiers.Top },
            ["features"] = new JsonObject
            {
                ["hash_bits"] = Features.HashBits,
                ["word_ngrams"] = Features.WordNgrams,
                ["char_ngrams"] = Features.CharNgrams,
                ["max_chars"] = Features.MaxChars,
            },
            ["thresholds"] = new JsonObject { ["cheap"] = CheapThreshold, ["mid"] = MidThreshold },
            ["training"] = Training is null ? null : JsonSerializer.SerializeToNode(Training, s_json),
            ["calibration"] = Calibration is null ? null : JsonSerializer.SerializeToNode(Calibration, s_json),
            ["heads"] = heads,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static JsonObject WriteHead(LearnedRouterHead head) => new()
    {
        ["bias"] = head.Bias,
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
        foreach (var w in weights)
        {
            if (!float.IsFinite(w))
            {
                throw new RoutingConfigurationException($"The router file '{source}': {key}.weights holds a non-finite weight.");
            }
        }

        return new LearnedRouterHead((float?)head["bias"] ?? throw Missing(source, key + ".bias"), weights);
    }

    private static double Threshold(JsonNode? node, string source, string key)
    {
        if (node is null)
        {
            return DefaultThreshold;
        }

        var value = (double)node;
        return value is >= 0 and <= 1.0000001
            ? value
            : throw new RoutingConfigurationException(string.Create(CultureInfo.InvariantCulture, $"The router file '{source}': {key} is {value}; a threshold is a probability between 0 and 1."));
    }

    private static RoutingConfigurationException Missing(string source, string key) =>
        new($"The router file '{source}' lacks '{key}'.");

    private struct ScoreSink(float[] pairs) : IFeatureSink
    {
        public float Cheap;
        public float Mid;
        public float CheapText;
        public float MidText;
        public int TextCount;

        public void Add(int index, float value)
        {
            Cheap += pairs[2 * index] * value;
            Mid += pairs[(2 * index) + 1] * value;
        }

        public void AddText(int index)
        {
            TextCount++;
            CheapText += pairs[2 * index];
            MidText += pairs[(2 * index) + 1];
        }
    }
}
