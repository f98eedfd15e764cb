using System.Globalization;
using System.Text.Json;

namespace ModelMix.Pricing;

/// <summary>
/// The parsed, validated-per-file content of one price book JSON file, before it is merged with other files and
/// compiled into a <see cref="PriceBook"/>. Every value remembers its JSON path so later errors can name it.
/// </summary>
internal sealed class PriceBookDocument
{
    private static readonly JsonDocumentOptions s_options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly string[] s_rootKeys =
        ["$schema", "schemaVersion", "currency", "replaceDefaults", "modifiers", "tiers", "serverTools", "models", "notes"];

    private static readonly string[] s_serverToolKeys = ["displayName", "source", "notes", "periods"];

    private static readonly string[] s_serverToolPeriodKeys = ["effectiveFrom", "effectiveTo", "perThousand", "notes"];

    private static readonly string[] s_modifierKeys =
        ["cacheWrite5mMultiplier", "cacheWrite1hMultiplier", "cacheReadMultiplier", "batchMultiplier", "inferenceGeo", "source", "notes"];

    private static readonly string[] s_modelKeys =
        ["id", "aliases", "displayName", "family", "minCacheableTokens", "source", "notes", "periods",
         "status", "released", "retirement", "contextWindow", "maxOutput", "substitutes", "rules"];

    private static readonly string[] s_statuses = ["active", "legacy", "deprecated", "retired", "preview"];

    private static readonly string[] s_periodKeys =
        ["effectiveFrom", "effectiveTo", "input", "output", "cacheWrite5m", "cacheWrite1h", "cacheRead", "longContext", "fastMultiplier", "notes"];

    private static readonly string[] s_longContextKeys =
        ["thresholdTokens", "input", "output", "cacheWrite5m", "cacheWrite1h", "cacheRead", "notes"];

    private PriceBookDocument(string sourceName) => SourceName = sourceName;

    public string SourceName { get; }

    public bool ReplaceDefaults { get; private set; }

    public decimal? CacheWrite5mMultiplier { get; private set; }

    public decimal? CacheWrite1hMultiplier { get; private set; }

    public decimal? CacheReadMultiplier { get; private set; }

    public decimal? BatchMultiplier { get; private set; }

    public Dictionary<string, decimal> InferenceGeo { get; } = new(StringComparer.OrdinalIgnoreCase);

    public List<(string Tier, string Model, string Path)> Tiers { get; } = [];

    public List<RawModel> Models { get; } = [];

    /// <summary>The server-tool price entries, by the <c>usage.server_tool_use</c> field they price.</summary>
    public List<RawServerTool> ServerTools { get; } = [];

    public static PriceBookDocument Parse(string json, string sourceName)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, s_options);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line
                ? $"$ (line {line + 1}, byte {ex.BytePositionInLine + 1})"
                : "$";
            throw PriceBookException.At(sourceName, where, "not valid JSON: " + ex.Message, ex);
        }

        using (doc)
        {
            var result = new PriceBookDocument(sourceName);
            result.ReadRoot(doc.RootElement);
            return result;
        }
    }

    private void ReadRoot(JsonElement root)
    {
        RequireObject(root, "$", s_rootKeys);
        if (root.TryGetProperty("schemaVersion", out var version)
            && (version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out var v) || v != 1))
        {
            throw Error("$.schemaVersion", "only schemaVersion 1 is supported.");
        }

        if (root.TryGetProperty("currency", out var currency)
            && (currency.ValueKind != JsonValueKind.String || currency.GetString() != "USD"))
        {
            throw Error("$.currency", "only \"USD\" is supported.");
        }

        if (root.TryGetProperty("replaceDefaults", out var replace))
        {
            ReplaceDefaults = replace.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error("$.replaceDefaults", "must be true or false."),
            };
        }

        if (root.TryGetProperty("modifiers", out var modifiers))
        {
            ReadModifiers(modifiers, "$.modifiers");
        }

        if (root.TryGetProperty("tiers", out var tiers))
        {
            RequireObject(tiers, "$.tiers", null);
            foreach (var tier in tiers.EnumerateObject())
            {
                var path = "$.tiers." + tier.Name;
                Tiers.Add((tier.Name, RequireString(tier.Value, path), path));
            }
        }

        if (root.TryGetProperty("serverTools", out var serverTools))
        {
            ReadServerTools(serverTools, "$.serverTools");
        }

        if (!root.TryGetProperty("models", out var models))
        {
            throw Error("$.models", "required key is missing (an array of model entries).");
        }

        if (models.ValueKind != JsonValueKind.Array)
        {
            throw Error("$.models", "must be an array.");
        }

        var seen = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var index = 0;
        foreach (var model in models.EnumerateArray())
        {
            var raw = ReadModel(model, $"$.models[{index}]");
            AddName(seen, raw.Id, raw.Path + ".id");
            for (var i = 0; i < raw.Aliases.Count; i++)
            {
                AddName(seen, raw.Aliases[i], $"{raw.Path}.aliases[{i}]");
            }

            Models.Add(raw);
            index++;
        }
    }

    private void AddName(Dictionary<string, string> seen, string name, string path)
    {
        if (!seen.TryAdd(name, path))
        {
            throw Error(path, $"duplicate model id or alias '{name}' (already used at {seen[name]}).");
        }
    }

    private void ReadServerTools(JsonElement element, string path)
    {
        RequireObject(element, path, null);
        foreach (var entry in element.EnumerateObject())
        {
            var entryPath = path + "." + entry.Name;
            if (!ServerToolUse.TryParseUsageField(entry.Name, out var tool))
            {
                throw Error(entryPath, $"unknown server tool (allowed here: {string.Join(", ", ServerToolUse.UsageFields)}, the counters of usage.server_tool_use).");
            }

            RequireObject(entry.Value, entryPath, s_serverToolKeys);
            if (!entry.Value.TryGetProperty("periods", out var periods))
            {
                throw Error(entryPath + ".periods", "required key is missing (an array of price periods).");
            }

            if (periods.ValueKind != JsonValueKind.Array || periods.GetArrayLength() == 0)
            {
                throw Error(entryPath + ".periods", "must be a non-empty array.");
            }

            var list = new List<RawServerToolPeriod>();
            var index = 0;
            foreach (var period in periods.EnumerateArray())
            {
                var periodPath = $"{entryPath}.periods[{index++}]";
                RequireObject(period, periodPath, s_serverToolPeriodKeys);
                var from = RequiredDate(period, "effectiveFrom", periodPath);
                DateTimeOffset? to = null;
                if (period.TryGetProperty("effectiveTo", out var toElement) && toElement.ValueKind != JsonValueKind.Null)
                {
                    to = ParseDate(toElement, periodPath + ".effectiveTo");
                    if (to.Value <= from)
                    {
                        throw Error(periodPath + ".effectiveTo", "must be later than effectiveFrom.");
                    }
                }

                if (!period.TryGetProperty("perThousand", out var perThousand) || perThousand.ValueKind == JsonValueKind.Null)
                {
                    throw Error(periodPath + ".perThousand", "required key is missing (a price in USD per 1,000 uses; 0 when the tool bills only tokens).");
                }

                list.Add(new RawServerToolPeriod(from, to, RequireDecimal(perThousand, periodPath + ".perThousand"), periodPath));
            }

            list.Sort(static (a, b) => a.From.CompareTo(b.From));
            for (var i = 1; i < list.Count; i++)
            {
                if (list[i - 1].To is not { } previousTo || previousTo > list[i].From)
                {
                    throw Error(
                        list[i].Path + ".effectiveFrom",
                        $"price period overlaps {list[i - 1].Path} (a server tool may have only one price in force at any instant).");
                }
            }

            if (ServerTools.Exists(existing => existing.Tool == tool))
            {
                throw Error(entryPath, "duplicate server tool.");
            }

            ServerTools.Add(new RawServerTool(
                tool,
                OptionalString(entry.Value, "displayName", entryPath),
                OptionalString(entry.Value, "source", entryPath),
                list,
                entryPath));
        }
    }

    private void ReadModifiers(JsonElement element, string path)
    {
        RequireObject(element, path, s_modifierKeys);
        CacheWrite5mMultiplier = OptionalDecimal(element, "cacheWrite5mMultiplier", path);
        CacheWrite1hMultiplier = OptionalDecimal(element, "cacheWrite1hMultiplier", path);
        CacheReadMultiplier = OptionalDecimal(element, "cacheReadMultiplier", path);
        BatchMultiplier = OptionalDecimal(element, "batchMultiplier", path);
        if (element.TryGetProperty("inferenceGeo", out var geo))
        {
            var geoPath = path + ".inferenceGeo";
            RequireObject(geo, geoPath, null);
            foreach (var entry in geo.EnumerateObject())
            {
                var entryPath = geoPath + "." + entry.Name;
                if (!InferenceGeo.TryAdd(entry.Name, RequireDecimal(entry.Value, entryPath)))
                {
                    throw Error(entryPath, "duplicate inference geo.");
                }
            }
        }
    }

    private RawModel ReadModel(JsonElement element, string path)
    {
        RequireObject(element, path, s_modelKeys);
        var id = RequiredString(element, "id", path);
        if (id.Length == 0)
        {
            throw Error(path + ".id", "must not be empty.");
        }

        var aliases = new List<string>();
        if (element.TryGetProperty("aliases", out var aliasArray))
        {
            if (aliasArray.ValueKind != JsonValueKind.Array)
            {
                throw Error(path + ".aliases", "must be an array of strings.");
            }

            var i = 0;
            foreach (var alias in aliasArray.EnumerateArray())
            {
                var aliasPath = $"{path}.aliases[{i++}]";
                var name = RequireString(alias, aliasPath);
                if (name.Length == 0)
                {
                    throw Error(aliasPath, "must not be empty.");
                }

                aliases.Add(name);
            }
        }

        int? minCacheable = null;
        if (element.TryGetProperty("minCacheableTokens", out var min) && min.ValueKind != JsonValueKind.Null)
        {
            if (min.ValueKind != JsonValueKind.Number || !min.TryGetInt32(out var value) || value < 0)
            {
                throw Error(path + ".minCacheableTokens", "must be a non-negative integer or null.");
            }

            minCacheable = value;
        }

        if (!element.TryGetProperty("periods", out var periods))
        {
            throw Error(path + ".periods", "required key is missing (an array of price periods).");
        }

        if (periods.ValueKind != JsonValueKind.Array || periods.GetArrayLength() == 0)
        {
            throw Error(path + ".periods", "must be a non-empty array.");
        }

        var list = new List<RawPeriod>();
        var index = 0;
        foreach (var period in periods.EnumerateArray())
        {
            list.Add(ReadPeriod(period, $"{path}.periods[{index++}]"));
        }

        list.Sort(static (a, b) => a.From.CompareTo(b.From));
        for (var i = 1; i < list.Count; i++)
        {
            var previous = list[i - 1];
            if (previous.To is null || previous.To.Value > list[i].From)
            {
                throw Error(
                    list[i].Path + ".effectiveFrom",
                    $"price period overlaps {previous.Path} (a model may have only one price in force at any instant).");
            }
        }

        var status = OptionalString(element, "status", path);
        if (status is not null && Array.IndexOf(s_statuses, status) < 0)
        {
            throw Error(path + ".status", $"must be one of {string.Join(", ", s_statuses)}.");
        }

        return new RawModel(
            id,
            aliases,
            OptionalString(element, "displayName", path),
            OptionalString(element, "family", path),
            OptionalString(element, "source", path),
            minCacheable,
            list,
            path)
        {
            Status = status,
            Released = element.TryGetProperty("released", out var released) && released.ValueKind != JsonValueKind.Null ? ParseDate(released, path + ".released") : null,
            Retirement = element.TryGetProperty("retirement", out var retirement) && retirement.ValueKind != JsonValueKind.Null ? ParseDate(retirement, path + ".retirement") : null,
            ContextWindow = OptionalPositiveLong(element, "contextWindow", path),
            MaxOutput = OptionalPositiveLong(element, "maxOutput", path),
            Substitutes = OptionalStrings(element, "substitutes", path),
            Rules = element.TryGetProperty("rules", out var rules) && rules.ValueKind != JsonValueKind.Null ? ReadRules(rules, path + ".rules") : null,
        };
    }

    private static readonly string[] s_ruleKeys =
        ["forcedToolUse", "thinking", "effort", "defaultSamplingOnly", "temperatureOrTopP", "assistantPrefill", "inferenceGeo", "fastMode", "rejectedToolTypes", "preservedThinking", "sources", "notes"];

    private static readonly string[] s_thinkingKeys = ["adaptive", "manual", "disable", "disableMaxEffort", "betweenTools", "betweenToolsMaxEffort", "onByDefault", "notes"];

    private static readonly string[] s_effortKeys = ["levels", "default", "notes"];

    private static readonly string[] s_preservedKeys = ["tiedToModel", "readsFrom", "notes"];

    private ModelMix.Catalog.ModelRules ReadRules(JsonElement element, string path)
    {
        RequireObject(element, path, s_ruleKeys);
        var rules = new ModelMix.Catalog.ModelRules
        {
            ForcedToolUse = OptionalBool(element, "forcedToolUse", path) ?? true,
            DefaultSamplingOnly = OptionalBool(element, "defaultSamplingOnly", path) ?? false,
            TemperatureOrTopP = OptionalBool(element, "temperatureOrTopP", path) ?? false,
            AssistantPrefill = OptionalBool(element, "assistantPrefill", path) ?? true,
            InferenceGeo = OptionalBool(element, "inferenceGeo", path) ?? true,
            FastMode = OptionalBool(element, "fastMode", path),
            RejectedToolTypes = OptionalStrings(element, "rejectedToolTypes", path),
            Sources = OptionalStrings(element, "sources", path),
        };

        if (element.TryGetProperty("thinking", out var thinking) && thinking.ValueKind != JsonValueKind.Null)
        {
            var thinkingPath = path + ".thinking";
            RequireObject(thinking, thinkingPath, s_thinkingKeys);
            rules = rules with
            {
                AdaptiveThinking = OptionalBool(thinking, "adaptive", thinkingPath) ?? true,
                ManualThinking = OptionalBool(thinking, "manual", thinkingPath) ?? true,
                DisableThinking = OptionalBool(thinking, "disable", thinkingPath) ?? true,
                ThinkingOnByDefault = OptionalBool(thinking, "onByDefault", thinkingPath) ?? false,
                DisableThinkingMaxEffort = OptionalString(thinking, "disableMaxEffort", thinkingPath) is { } max
                    ? ParseEffort(max, thinkingPath + ".disableMaxEffort")
                    : ModelMix.Catalog.EffortLevel.Unspecified,
                BetweenToolsThinking = OptionalBool(thinking, "betweenTools", thinkingPath) ?? false, // only where stated
                BetweenToolsMaxEffort = OptionalString(thinking, "betweenToolsMaxEffort", thinkingPath) is { } betweenMax
                    ? ParseEffort(betweenMax, thinkingPath + ".betweenToolsMaxEffort")
                    : ModelMix.Catalog.EffortLevel.Unspecified,
            };
        }

        if (element.TryGetProperty("effort", out var effort))
        {
            var effortPath = path + ".effort";
            if (effort.ValueKind == JsonValueKind.Null)
            {
                rules = rules with { EffortsKnown = true, Efforts = ModelMix.Catalog.EffortLevels.None };
            }
            else
            {
                RequireObject(effort, effortPath, s_effortKeys);
                var levels = ModelMix.Catalog.EffortLevels.None;
                var names = OptionalStrings(effort, "levels", effortPath);
                for (var i = 0; i < names.Count; i++)
                {
                    levels |= ParseEffort(names[i], $"{effortPath}.levels[{i}]") switch
                    {
                        ModelMix.Catalog.EffortLevel.Low => ModelMix.Catalog.EffortLevels.Low,
                        ModelMix.Catalog.EffortLevel.Medium => ModelMix.Catalog.EffortLevels.Medium,
                        ModelMix.Catalog.EffortLevel.High => ModelMix.Catalog.EffortLevels.High,
                        ModelMix.Catalog.EffortLevel.XHigh => ModelMix.Catalog.EffortLevels.XHigh,
                        _ => ModelMix.Catalog.EffortLevels.Max,
                    };
                }

                var defaultEffort = OptionalString(effort, "default", effortPath) is { } name
                    ? ParseEffort(name, effortPath + ".default")
                    : ModelMix.Catalog.EffortLevel.Unspecified;
                rules = rules with { EffortsKnown = true, Efforts = levels, DefaultEffort = defaultEffort };
                if (defaultEffort != ModelMix.Catalog.EffortLevel.Unspecified && !rules.AcceptsEffort(defaultEffort))
                {
                    throw Error(effortPath + ".default", "must be one of the levels.");
                }
            }
        }

        if (element.TryGetProperty("preservedThinking", out var preserved) && preserved.ValueKind != JsonValueKind.Null)
        {
            var preservedPath = path + ".preservedThinking";
            RequireObject(preserved, preservedPath, s_preservedKeys);
            rules = rules with
            {
                ThinkingTiedToModel = OptionalBool(preserved, "tiedToModel", preservedPath) ?? false,
                ReadsThinkingFrom = OptionalStrings(preserved, "readsFrom", preservedPath),
            };
        }

        return rules;
    }

    private ModelMix.Catalog.EffortLevel ParseEffort(string name, string path) => name switch
    {
        "low" => ModelMix.Catalog.EffortLevel.Low,
        "medium" => ModelMix.Catalog.EffortLevel.Medium,
        "high" => ModelMix.Catalog.EffortLevel.High,
        "xhigh" => ModelMix.Catalog.EffortLevel.XHigh,
        "max" => ModelMix.Catalog.EffortLevel.Max,
        _ => throw Error(path, "must be one of low, medium, high, xhigh, max."),
    };

    private bool? OptionalBool(JsonElement element, string key, string path)
    {
        if (!element.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(path + "." + key, "must be true or false."),
        };
    }

    private long? OptionalPositiveLong(JsonElement element, string key, string path)
    {
        if (!element.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number) || number < 1)
        {
            throw Error(path + "." + key, "must be a positive integer (tokens).");
        }

        return number;
    }

    private List<string> OptionalStrings(JsonElement element, string key, string path)
    {
        var list = new List<string>();
        if (!element.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return list;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Error(path + "." + key, "must be an array of strings.");
        }

        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            var name = RequireString(item, $"{path}.{key}[{i++}]");
            if (name.Length == 0)
            {
                throw Error($"{path}.{key}[{i - 1}]", "must not be empty.");
            }

            list.Add(name);
        }

        return list;
    }

    private RawPeriod ReadPeriod(JsonElement element, string path)
    {
        RequireObject(element, path, s_periodKeys);
        var from = RequiredDate(element, "effectiveFrom", path);
        DateTimeOffset? to = null;
        if (element.TryGetProperty("effectiveTo", out var toElement) && toElement.ValueKind != JsonValueKind.Null)
        {
            to = ParseDate(toElement, path + ".effectiveTo");
            if (to.Value <= from)
            {
                throw Error(path + ".effectiveTo", "must be later than effectiveFrom.");
            }
        }

        RawLongContext? longContext = null;
        if (element.TryGetProperty("longContext", out var lc) && lc.ValueKind != JsonValueKind.Null)
        {
            var lcPath = path + ".longContext";
            RequireObject(lc, lcPath, s_longContextKeys);
            if (!lc.TryGetProperty("thresholdTokens", out var threshold))
            {
                throw Error(lcPath + ".thresholdTokens", "required key is missing.");
            }

            if (threshold.ValueKind != JsonValueKind.Number || !threshold.TryGetInt64(out var thresholdTokens) || thresholdTokens < 0)
            {
                throw Error(lcPath + ".thresholdTokens", "must be a non-negative integer.");
            }

            longContext = new RawLongContext(
                thresholdTokens,
                RequiredDecimal(lc, "input", lcPath),
                RequiredDecimal(lc, "output", lcPath),
                OptionalDecimal(lc, "cacheWrite5m", lcPath),
                OptionalDecimal(lc, "cacheWrite1h", lcPath),
                OptionalDecimal(lc, "cacheRead", lcPath));
        }

        return new RawPeriod(
            from,
            to,
            RequiredDecimal(element, "input", path),
            RequiredDecimal(element, "output", path),
            OptionalDecimal(element, "cacheWrite5m", path),
            OptionalDecimal(element, "cacheWrite1h", path),
            OptionalDecimal(element, "cacheRead", path),
            longContext,
            OptionalDecimal(element, "fastMultiplier", path),
            path);
    }

    private void RequireObject(JsonElement element, string path, string[]? allowedKeys)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Error(path, "must be a JSON object.");
        }

        if (allowedKeys is null)
        {
            return;
        }

        foreach (var property in element.EnumerateObject())
        {
            if (Array.IndexOf(allowedKeys, property.Name) < 0)
            {
                throw Error(
                    path + "." + property.Name,
                    $"unknown key (allowed here: {string.Join(", ", allowedKeys)}).");
            }
        }
    }

    private string RequiredString(JsonElement element, string key, string path)
    {
        if (!element.TryGetProperty(key, out var value))
        {
            throw Error(path + "." + key, "required key is missing.");
        }

        return RequireString(value, path + "." + key);
    }

    private string? OptionalString(JsonElement element, string key, string path)
    {
        if (!element.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return RequireString(value, path + "." + key);
    }

    private string RequireString(JsonElement value, string path) =>
        value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Error(path, "must be a string.");

    private decimal RequiredDecimal(JsonElement element, string key, string path)
    {
        if (!element.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw Error(path + "." + key, "required key is missing (a price in USD per million tokens).");
        }

        return RequireDecimal(value, path + "." + key);
    }

    private decimal? OptionalDecimal(JsonElement element, string key, string path)
    {
        if (!element.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return RequireDecimal(value, path + "." + key);
    }

    private decimal RequireDecimal(JsonElement value, string path)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out var number))
        {
            throw Error(path, "must be a number.");
        }

        if (number < 0)
        {
            throw Error(path, $"must not be negative (found {number.ToString(CultureInfo.InvariantCulture)}).");
        }

        return number;
    }

    private DateTimeOffset RequiredDate(JsonElement element, string key, string path)
    {
        if (!element.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw Error(path + "." + key, "required key is missing (an ISO 8601 date, e.g. \"2025-09-29\").");
        }

        return ParseDate(value, path + "." + key);
    }

    private DateTimeOffset ParseDate(JsonElement value, string path)
    {
        if (value.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(
                value.GetString(),
                CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
                out var date))
        {
            return date;
        }

        throw Error(path, "must be an ISO 8601 date or timestamp string, e.g. \"2025-09-29\" or \"2025-09-29T00:00:00Z\".");
    }

    private PriceBookException Error(string path, string problem) => PriceBookException.At(SourceName, path, problem);

    internal sealed record RawModel(
        string Id,
        List<string> Aliases,
        string? DisplayName,
        string? Family,
        string? Source,
        int? MinCacheableTokens,
        List<RawPeriod> Periods,
        string Path)
    {
        public string? Status { get; init; }

        public DateTimeOffset? Released { get; init; }

        public DateTimeOffset? Retirement { get; init; }

        public long? ContextWindow { get; init; }

        public long? MaxOutput { get; init; }

        public List<string> Substitutes { get; init; } = [];

        public ModelMix.Catalog.ModelRules? Rules { get; init; }
    }

    internal sealed record RawPeriod(
        DateTimeOffset From,
        DateTimeOffset? To,
        decimal Input,
        decimal Output,
        decimal? CacheWrite5m,
        decimal? CacheWrite1h,
        decimal? CacheRead,
        RawLongContext? LongContext,
        decimal? FastMultiplier,
        string Path);

    internal sealed record RawServerTool(
        ServerTool Tool,
        string? DisplayName,
        string? Source,
        List<RawServerToolPeriod> Periods,
        string Path);

    internal sealed record RawServerToolPeriod(DateTimeOffset From, DateTimeOffset? To, decimal PerThousand, string Path);

    internal sealed record RawLongContext(
        long ThresholdTokens,
        decimal Input,
        decimal Output,
        decimal? CacheWrite5m,
        decimal? CacheWrite1h,
        decimal? CacheRead);
}
