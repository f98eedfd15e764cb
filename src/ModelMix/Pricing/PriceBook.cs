using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace ModelMix.Pricing;

/// <summary>
/// The effective-dated price book: which model costs what, when, and how batch, long context, fast mode and data
/// residency change that. Loaded from <c>prices.json</c> (the embedded default, optionally overlaid by a user file)
/// and compiled once so that <see cref="Cost(string, in TokenUsage, DateTimeOffset)"/> is exact, fast and allocation-free.
/// </summary>
public sealed class PriceBook
{
    /// <summary>
    /// The <see cref="SourceName"/> of the embedded default book, phrased to tell users how to replace it: the
    /// <c>ModelMix:Prices</c> setting, which the library (<c>AddModelMix</c>) and the proxy read (the command line's
    /// <c>--prices FILE</c> sets it too).
    /// </summary>
    public const string DefaultSourceName = "prices.json (embedded default) — set ModelMix:Prices to a price book file of your own";

    private const string ResourceName = "ModelMix.Pricing.prices.json";
    private const decimal BuiltInCacheWrite5mMultiplier = 1.25m;
    private const decimal BuiltInCacheWrite1hMultiplier = 2m;
    private const decimal BuiltInCacheReadMultiplier = 0.1m;
    private const decimal BuiltInBatchMultiplier = 0.5m;

    private static readonly Lazy<PriceBookDocument> s_defaultDocument = new(LoadEmbeddedDocument);
    private static readonly Lazy<PriceBook> s_default = new(static () => Build([s_defaultDocument.Value], DefaultSourceName));

    private readonly Dictionary<string, CompiledModel> _byName;
    private readonly Dictionary<string, decimal> _inferenceGeo;
    private readonly Dictionary<string, string> _tiers;
    private readonly decimal _batchMultiplier;
    private readonly ServerToolPrice[][] _serverTools; // by ServerToolUse.Index; empty when the book does not price the tool
    private IReadOnlyList<string>? _unpricedSdkModels;

    private PriceBook(
        string sourceName,
        List<ModelPriceEntry> entries,
        Dictionary<string, CompiledModel> byName,
        Dictionary<string, decimal> inferenceGeo,
        Dictionary<string, string> tiers,
        decimal batchMultiplier,
        decimal cacheWrite5mMultiplier,
        decimal cacheWrite1hMultiplier,
        decimal cacheReadMultiplier,
        List<ServerToolPriceEntry> serverTools)
    {
        SourceName = sourceName;
        ServerTools = serverTools.AsReadOnly();
        _serverTools = new ServerToolPrice[ServerToolUse.All.Count][];
        foreach (var tool in ServerToolUse.All)
        {
            _serverTools[ServerToolUse.Index(tool)] = serverTools.Find(entry => entry.Tool == tool) is { } entry ? [.. entry.Periods] : [];
        }

        Entries = entries.AsReadOnly();
        _byName = byName;
        _inferenceGeo = inferenceGeo;
        _tiers = tiers;
        _batchMultiplier = batchMultiplier;
        CacheWrite5mMultiplier = cacheWrite5mMultiplier;
        CacheWrite1hMultiplier = cacheWrite1hMultiplier;
        CacheReadMultiplier = cacheReadMultiplier;
    }

    /// <summary>The embedded default price book, parsed once on first use.</summary>
    public static PriceBook Default => s_default.Value;

    /// <summary>Where this book came from: the file path to tell users to edit, or <see cref="DefaultSourceName"/>.</summary>
    public string SourceName { get; }

    /// <summary>Every model entry, in file order (defaults first, then entries a user file added).</summary>
    public IReadOnlyList<ModelPriceEntry> Entries { get; }

    /// <summary>The family tiers (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>) and the model each names, as written in the file.</summary>
    public IReadOnlyDictionary<string, string> Tiers => _tiers;

    /// <summary>
    /// The server tools the book prices per use (<c>serverTools</c>: web search, web fetch), with their periods. A call
    /// that used a tool the book does not price at the call's time cannot be priced (never assumed free).
    /// </summary>
    public IReadOnlyList<ServerToolPriceEntry> ServerTools { get; }

    /// <summary>The multiplier applied to every rate on the Message Batches API (<c>service_tier</c> "batch").</summary>
    public decimal BatchMultiplier => _batchMultiplier;

    /// <summary>The 5-minute cache write rate as a multiple of input, used where an entry gives no explicit rate.</summary>
    public decimal CacheWrite5mMultiplier { get; }

    /// <summary>The 1-hour cache write rate as a multiple of input, used where an entry gives no explicit rate.</summary>
    public decimal CacheWrite1hMultiplier { get; }

    /// <summary>The cache read rate as a multiple of input, used where an entry gives no explicit rate.</summary>
    public decimal CacheReadMultiplier { get; }

    /// <summary>The data-residency multiplier per <c>usage.inference_geo</c> value (e.g. "us" → 1.1).</summary>
    public IReadOnlyDictionary<string, decimal> InferenceGeoMultipliers => _inferenceGeo;

    /// <summary>
    /// Model ids the Anthropic SDK's <c>Anthropic.Models.Messages.Model</c> knows that this book cannot price: a
    /// reminder of what to add before routing to them.
    /// </summary>
    // Stryker disable once Assignment : equivalent (docs/testing.md, pricing): `??=` → `=` computes the same list again (the book does not change; cost only)
    public IReadOnlyList<string> UnpricedSdkModels => _unpricedSdkModels ??= ComputeUnpricedSdkModels();

    /// <summary>
    /// Loads a user price book file. Its entries replace default entries that share an id or alias and add new ones;
    /// a file with <c>"replaceDefaults": true</c> stands alone.
    /// </summary>
    /// <param name="path">The JSON file; becomes the <see cref="SourceName"/>.</param>
    /// <exception cref="PriceBookException">The file is missing or invalid.</exception>
    public static PriceBook Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new PriceBookException($"Cannot read price book {path}: {ex.Message}", ex) { SourceName = path };
        }

        return Parse(json, path);
    }

    /// <summary>
    /// Parses a price book from JSON text with the same overlay rules as <see cref="Load"/>: it overlays the
    /// embedded defaults unless it says <c>"replaceDefaults": true</c>.
    /// </summary>
    /// <param name="json">The price book JSON.</param>
    /// <param name="sourceName">Where the JSON came from, used in error messages (e.g. a file name).</param>
    /// <exception cref="PriceBookException">The JSON is invalid.</exception>
    public static PriceBook Parse(string json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        var document = PriceBookDocument.Parse(json, sourceName);
        return document.ReplaceDefaults
            ? Build([document], sourceName)
            : Build([s_defaultDocument.Value, document], sourceName);
    }

    /// <summary>Resolves an id or alias to the canonical model id.</summary>
    /// <param name="modelOrAlias">A model id, dated id or alias, e.g. <c>claude-sonnet-4-5</c>.</param>
    /// <exception cref="UnknownModelException">The name is not in the book.</exception>
    public string ResolveId(string modelOrAlias) =>
        _byName.TryGetValue(modelOrAlias, out var model) ? model.Entry.Id : throw Unknown(modelOrAlias);

    /// <summary>Resolves an id or alias to the canonical model id without throwing.</summary>
    /// <param name="modelOrAlias">A model id, dated id or alias.</param>
    /// <param name="id">The canonical id when found.</param>
    public bool TryResolveId(string modelOrAlias, [NotNullWhen(true)] out string? id)
    {
        if (modelOrAlias is not null && _byName.TryGetValue(modelOrAlias, out var model))
        {
            id = model.Entry.Id;
            return true;
        }

        id = null;
        return false;
    }

    /// <summary>
    /// The catalog's own spelling of a model name: names are matched in any casing (<c>CLAUDE-Haiku-4-5</c>), and this
    /// gives the id or alias as the catalog writes it (<c>claude-haiku-4-5</c>), unlike <see cref="TryResolveId"/>,
    /// which maps an alias to its dated id. Recording and forwarding this spelling keeps one name per model in the
    /// ledger and one series per model in the metrics, whatever casing callers send.
    /// </summary>
    /// <param name="name">A model id, dated id or alias, in any casing.</param>
    /// <param name="catalogName">The same name as the catalog spells it; the very same instance when it already matches.</param>
    public bool TryGetCatalogName(string name, [NotNullWhen(true)] out string? catalogName)
    {
        if (name is null || !_byName.TryGetValue(name, out var model))
        {
            catalogName = null;
            return false;
        }

        var entry = model.Entry;
        if (string.Equals(entry.Id, name, StringComparison.OrdinalIgnoreCase))
        {
            catalogName = string.Equals(entry.Id, name, StringComparison.Ordinal) ? name : entry.Id;
            return true;
        }

        foreach (var alias in entry.Aliases)
        {
            if (string.Equals(alias, name, StringComparison.OrdinalIgnoreCase))
            {
                catalogName = string.Equals(alias, name, StringComparison.Ordinal) ? name : alias;
                return true;
            }
        }

        catalogName = entry.Id; // not reached: every name in the book is the entry's id or one of its aliases
        // Stryker disable once Boolean : not reachable (docs/testing.md, pricing): every name in the book is its entry's id or one of its aliases, so the loop above has returned
        return true;
    }

    /// <summary>Resolves a tier name (<c>haiku</c>, <c>sonnet</c>, <c>opus</c>) or a model name to a canonical model id.</summary>
    /// <param name="tierOrModel">A tier from <see cref="Tiers"/>, or any id or alias.</param>
    /// <exception cref="UnknownModelException">Neither a tier nor a known model.</exception>
    public string ResolveTier(string tierOrModel)
    {
        ArgumentNullException.ThrowIfNull(tierOrModel);
        return _tiers.TryGetValue(tierOrModel, out var model) ? ResolveId(model) : ResolveId(tierOrModel);
    }

    /// <summary>The entry for an id or alias.</summary>
    /// <param name="modelOrAlias">A model id, dated id or alias.</param>
    /// <exception cref="UnknownModelException">The name is not in the book.</exception>
    public ModelPriceEntry GetEntry(string modelOrAlias) =>
        _byName.TryGetValue(modelOrAlias, out var model) ? model.Entry : throw Unknown(modelOrAlias);

    /// <summary>The entry for an id or alias, without throwing.</summary>
    /// <param name="modelOrAlias">A model id, dated id or alias.</param>
    /// <param name="entry">The entry when found.</param>
    public bool TryGetEntry(string modelOrAlias, [NotNullWhen(true)] out ModelPriceEntry? entry)
    {
        if (modelOrAlias is not null && _byName.TryGetValue(modelOrAlias, out var model))
        {
            entry = model.Entry;
            return true;
        }

        entry = null;
        return false;
    }

    /// <summary>The list rates of a model in force at an instant.</summary>
    /// <param name="modelOrAlias">A model id, dated id or alias.</param>
    /// <param name="at">The instant of the call.</param>
    /// <exception cref="UnknownModelException">Unknown model, or no period in force at <paramref name="at"/>.</exception>
    public ModelPrice GetPrice(string modelOrAlias, DateTimeOffset at) => FindPeriod(modelOrAlias, at).Price;

    /// <summary>The list rates of a model in force at an instant, without throwing.</summary>
    /// <param name="modelOrAlias">A model id, dated id or alias.</param>
    /// <param name="at">The instant of the call.</param>
    /// <param name="price">The rates when found.</param>
    public bool TryGetPrice(string modelOrAlias, DateTimeOffset at, [NotNullWhen(true)] out ModelPrice? price)
    {
        if (modelOrAlias is not null
            && _byName.TryGetValue(modelOrAlias, out var model)
            && model.Find(at.UtcTicks) is { } period)
        {
            price = period.Price;
            return true;
        }

        price = null;
        return false;
    }

    /// <summary>The per-use price of a server tool in force at an instant, without throwing.</summary>
    /// <param name="tool">The server tool.</param>
    /// <param name="at">The instant of the call.</param>
    /// <param name="price">The period in force when found.</param>
    public bool TryGetServerToolPrice(ServerTool tool, DateTimeOffset at, [NotNullWhen(true)] out ServerToolPrice? price)
    {
        price = FindServerToolPeriod(tool, at.UtcTicks);
        return price is not null;
    }

    /// <summary>
    /// The exact cost of one call: every token class at the rate in force at <paramref name="at"/>, long-context
    /// rates when the prompt exceeds the threshold, times the batch, fast-mode and data-residency multipliers, plus
    /// the server-tool fees (uses counted in <c>usage.server_tool_use</c> at the per-use price in force, which no token
    /// modifier changes). Exact decimal, never rounded; allocation-free.
    /// </summary>
    /// <param name="modelOrAlias">The model that served the call (id, dated id or alias).</param>
    /// <param name="usage">The call's token counts and billing modifiers.</param>
    /// <param name="at">When the call was made (selects the price period).</param>
    /// <exception cref="UnknownModelException">Unknown model, or no period in force at <paramref name="at"/>.</exception>
    /// <exception cref="PricingException">
    /// Fast mode on a model without a fast price, an unknown inference geo, a server tool used with no price in force,
    /// or a negative count.
    /// </exception>
    public CostBreakdown Cost(string modelOrAlias, in TokenUsage usage, DateTimeOffset at) =>
        Cost(modelOrAlias, usage, at, usage.TotalInputTokens);

    /// <summary>
    /// <see cref="Cost(string, in TokenUsage, DateTimeOffset)"/> of the summed usage of calls that all had
    /// <paramref name="promptTokensPerCall"/>'s side of the long-context threshold (an audit over rollups): pricing is
    /// linear in every token class, so the sum of the calls' costs is the cost of their summed usage at their rates.
    /// </summary>
    internal CostBreakdown Cost(string modelOrAlias, in TokenUsage usage, DateTimeOffset at, long promptTokensPerCall)
    {
        var period = FindPeriod(modelOrAlias, at);
        if ((usage.InputTokens | usage.OutputTokens | usage.CacheWrite5mTokens | usage.CacheWrite1hTokens | usage.CacheReadTokens
             | usage.WebSearchRequests | usage.WebFetchRequests) < 0)
        {
            ThrowNegativeTokens(modelOrAlias);
        }

        // Stryker disable once Conditional : equivalent (docs/testing.md, pricing): forced true, ServerToolFees of no use is 0; also drops the ternary forced false, which CostGoldenTests.Server_tool_fees_match_hand_computation kills
        var serverTools = usage.HasServerToolUse ? ServerToolFees(usage, at) : 0m;

        // Batch is folded into precomputed rate sets; fast mode and data residency multiply at call time.
        var batch = usage.ServiceTier == ServiceTier.Batch;
        var rates = period.HasLongContext && promptTokensPerCall > period.LongContextThreshold
            ? (batch ? period.LongContextBatch : period.LongContext)
            : (batch ? period.StandardBatch : period.Standard);

        var multiplier = 1m;
        // Stryker disable once Boolean : equivalent (docs/testing.md, pricing): scaled from the start multiplies by 1m (multiplier's start), the same values
        var scaled = false;

        if (usage.Speed == Speed.Fast)
        {
            if (!period.HasFast)
            {
                ThrowNoFastPrice(modelOrAlias, at);
            }

            multiplier = period.FastMultiplier;
            scaled = true;
        }

        var geo = usage.InferenceGeo;
        if (!string.IsNullOrEmpty(geo))
        {
            if (!_inferenceGeo.TryGetValue(geo, out var geoMultiplier))
            {
                ThrowUnknownGeo(modelOrAlias, geo);
            }

            if (geoMultiplier != 1m)
            {
                // Stryker disable once Conditional : equivalent (docs/testing.md, pricing): forced true, multiplier is 1m when nothing scaled it; also drops the ternary forced false, which CostGoldenTests.Total_cost_matches_hand_computation kills (fast and us rows)
                multiplier = scaled ? multiplier * geoMultiplier : geoMultiplier;
                scaled = true;
            }
        }

        // Stryker disable once Conditional : equivalent (docs/testing.md, pricing): forced true, an unscaled call is priced with multiplier 1m, the same amounts (1m has scale 0); also drops it forced false, which CostGoldenTests.Total_cost_matches_hand_computation kills
        return scaled
            ? new CostBreakdown(
                Scaled(usage.InputTokens, rates.Input, multiplier),
                Scaled(usage.OutputTokens, rates.Output, multiplier),
                Scaled(usage.CacheWrite5mTokens, rates.CacheWrite5m, multiplier),
                Scaled(usage.CacheWrite1hTokens, rates.CacheWrite1h, multiplier),
                Scaled(usage.CacheReadTokens, rates.CacheRead, multiplier),
                serverTools)
            : new CostBreakdown(
                Plain(usage.InputTokens, rates.Input),
                Plain(usage.OutputTokens, rates.Output),
                Plain(usage.CacheWrite5mTokens, rates.CacheWrite5m),
                Plain(usage.CacheWrite1hTokens, rates.CacheWrite1h),
                Plain(usage.CacheReadTokens, rates.CacheRead),
                serverTools);
    }

    /// <summary>The server-tool fees of <paramref name="usage"/>: each counted use at the per-use price in force.</summary>
    private decimal ServerToolFees(in TokenUsage usage, DateTimeOffset at)
    {
        var fees = 0m;
        if (usage.WebSearchRequests != 0)
        {
            fees += usage.WebSearchRequests * (FindServerToolPeriod(ServerTool.WebSearch, at.UtcTicks) ?? ThrowNoServerToolPrice(ServerTool.WebSearch, usage.WebSearchRequests, at)).PerUse;
        }

        if (usage.WebFetchRequests != 0)
        {
            fees += usage.WebFetchRequests * (FindServerToolPeriod(ServerTool.WebFetch, at.UtcTicks) ?? ThrowNoServerToolPrice(ServerTool.WebFetch, usage.WebFetchRequests, at)).PerUse;
        }

        return fees;
    }

    private ServerToolPrice? FindServerToolPeriod(ServerTool tool, long utcTicks)
    {
        var periods = _serverTools[ServerToolUse.Index(tool)];
        for (var i = 0; i < periods.Length; i++)
        {
            var period = periods[i];
            if (utcTicks >= period.EffectiveFrom.UtcTicks && (period.EffectiveTo is not { } to || utcTicks < to.UtcTicks))
            {
                return period;
            }
        }

        return null;
    }

    // Stryker disable once Conditional : equivalent (docs/testing.md, pricing): forced to the product, 0 × rate is 0 (the same decimal value; only its scale differs); also drops it forced to 0m, which every cost test kills
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static decimal Plain(long tokens, decimal ratePerToken) => tokens == 0 ? 0m : tokens * ratePerToken;

    // Stryker disable once Conditional : equivalent (docs/testing.md, pricing): forced to the product, 0 × rate × multiplier is 0 (the same decimal value; only its scale differs); also drops it forced to 0m, which every scaled cost test kills
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static decimal Scaled(long tokens, decimal ratePerToken, decimal multiplier) =>
        tokens == 0 ? 0m : tokens * ratePerToken * multiplier;

    private CompiledPeriod FindPeriod(string modelOrAlias, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(modelOrAlias);
        if (!_byName.TryGetValue(modelOrAlias, out var model))
        {
            throw Unknown(modelOrAlias);
        }

        return model.Find(at.UtcTicks) ?? throw NoPeriod(modelOrAlias, model, at);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private UnknownModelException Unknown(string model) => new(
        $"Unknown model '{model}': it has no entry in the price book, so its cost cannot be computed (it is never " +
        $"assumed to be $0). Add it (as an id or alias) to the price book file: {SourceName}.")
    {
        Model = model,
        SourceName = SourceName,
    };

    [MethodImpl(MethodImplOptions.NoInlining)]
    private UnknownModelException NoPeriod(string model, CompiledModel compiled, DateTimeOffset at)
    {
        var ranges = new StringBuilder();
        foreach (var period in compiled.Entry.Periods)
        {
            if (ranges.Length > 0)
            {
                ranges.Append(", ");
            }

            ranges.Append('[').Append(period.EffectiveFrom.ToString("O", CultureInfo.InvariantCulture)).Append(", ")
                .Append(period.EffectiveTo?.ToString("O", CultureInfo.InvariantCulture) ?? "open").Append(')');
        }

        return new UnknownModelException(
            $"Model '{model}' (price book id '{compiled.Entry.Id}') has no price in force at " +
            $"{at.ToString("O", CultureInfo.InvariantCulture)}; its periods are {ranges}. Add a price period covering " +
            $"that instant to the price book file: {SourceName}.")
        {
            Model = model,
            SourceName = SourceName,
        };
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    [DoesNotReturn]
    private void ThrowNoFastPrice(string model, DateTimeOffset at) => throw new PricingException(
        $"Model '{model}' ran in fast mode (usage.speed \"fast\") but its price period in force at " +
        $"{at.ToString("O", CultureInfo.InvariantCulture)} has no fastMultiplier, so the call cannot be priced exactly. " +
        $"Add a fastMultiplier to that period in the price book file: {SourceName}.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    [DoesNotReturn]
    private void ThrowUnknownGeo(string model, string geo) => throw new PricingException(
        $"Model '{model}' reports inference_geo '{geo}', which has no data-residency multiplier. Add it under " +
        $"modifiers.inferenceGeo in the price book file: {SourceName}.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    [DoesNotReturn]
    private static void ThrowNegativeTokens(string model) => throw new PricingException(
        $"Token and server-tool counts for model '{model}' must not be negative.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    [DoesNotReturn]
    private ServerToolPrice ThrowNoServerToolPrice(ServerTool tool, long uses, DateTimeOffset at) => throw new PricingException(
        $"The call used a server tool the price book cannot price: usage.server_tool_use.{ServerToolUse.UsageField(tool)} is " +
        $"{uses.ToString(CultureInfo.InvariantCulture)} and no serverTools.{ServerToolUse.UsageField(tool)} price is in force at " +
        $"{at.ToString("O", CultureInfo.InvariantCulture)} (server-tool fees are never assumed to be $0). Add a price period for it " +
        $"to the price book file: {SourceName}.");

    private static PriceBookDocument LoadEmbeddedDocument()
    {
        // Stryker disable once String : not reachable (docs/testing.md, pricing): the resource is always embedded
        using var stream = typeof(PriceBook).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new PriceBookException($"The embedded resource {ResourceName} is missing from the ModelMix assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return PriceBookDocument.Parse(reader.ReadToEnd(), DefaultSourceName);
    }

    private static PriceBook Build(IReadOnlyList<PriceBookDocument> documents, string sourceName)
    {
        decimal? write5m = null, write1h = null, read = null, batch = null;
        var geo = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase);
        var tiers = new Dictionary<string, (string Model, PriceBookDocument Document, string Path)>(StringComparer.OrdinalIgnoreCase);
        var models = new List<(PriceBookDocument.RawModel Model, PriceBookDocument Document)>();
        var serverTools = new Dictionary<ServerTool, PriceBookDocument.RawServerTool>();

        foreach (var document in documents)
        {
            // Stryker disable once NullCoalescing : equivalent (docs/testing.md, pricing): → `document.CacheWrite5mMultiplier` alone: the embedded file's value equals the built-in constant, so a later file silent on it (null) ends on the same number; also drops → `write5m` alone and the swap, which PriceBookTests/PriceBookSurvivorTests kill
            write5m = document.CacheWrite5mMultiplier ?? write5m;
            // Stryker disable once NullCoalescing : equivalent (docs/testing.md, pricing): → `document.CacheWrite1hMultiplier` alone: the embedded file's value equals the built-in constant, so a later file silent on it (null) ends on the same number; also drops → `write1h` alone and the swap, which PriceBookTests/PriceBookSurvivorTests kill
            write1h = document.CacheWrite1hMultiplier ?? write1h;
            // Stryker disable once NullCoalescing : equivalent (docs/testing.md, pricing): → `document.CacheReadMultiplier` alone: the embedded file's value equals the built-in constant, so a later file silent on it (null) ends on the same number; also drops → `read` alone and the swap, which PriceBookTests/PriceBookSurvivorTests kill
            read = document.CacheReadMultiplier ?? read;
            // Stryker disable once NullCoalescing : equivalent (docs/testing.md, pricing): → `document.BatchMultiplier` alone: the embedded file's value equals the built-in constant, so a later file silent on it (null) ends on the same number; also drops → `batch` alone and the swap, which PriceBookTests/PriceBookSurvivorTests kill
            batch = document.BatchMultiplier ?? batch;
            foreach (var (key, value) in document.InferenceGeo)
            {
                geo[key] = value;
            }

            foreach (var (tier, model, path) in document.Tiers)
            {
                tiers[tier] = (model, document, path);
            }

            foreach (var serverTool in document.ServerTools)
            {
                serverTools[serverTool.Tool] = serverTool; // a later file's entry replaces the tool's periods whole
            }

            foreach (var added in document.Models)
            {
                // An entry replaces every earlier entry it shares a name (id or alias) with, and keeps answering to
                // the replaced entries' names (so overriding "claude-sonnet-4-5" also prices the dated id).
                var model = added;
                var names = new HashSet<string>(model.Aliases, StringComparer.OrdinalIgnoreCase) { model.Id };
                var replaceAt = -1;
                for (var i = models.Count - 1; i >= 0; i--)
                {
                    var existing = models[i].Model;
                    if (names.Contains(existing.Id) || existing.Aliases.Exists(names.Contains))
                    {
                        models.RemoveAt(i);
                        replaceAt = i;
                        var inherited = new List<string>(model.Aliases);
                        // Stryker disable once Linq : equivalent (docs/testing.md, pricing): `Prepend` → `Append` changes the order only for a replaced entry with two or more names to hand on, and only embedded entries are replaced (a file cannot claim a name twice), none with more than one alias
                        foreach (var name in existing.Aliases.Prepend(existing.Id))
                        {
                            if (names.Add(name))
                            {
                                inherited.Add(name);
                            }
                        }

                        model = model with { Aliases = inherited };
                    }
                }

                if (replaceAt >= 0)
                {
                    models.Insert(replaceAt, (model, document));
                }
                else
                {
                    models.Add((model, document));
                }
            }
        }

        var multipliers = (
            Write5m: write5m ?? BuiltInCacheWrite5mMultiplier,
            Write1h: write1h ?? BuiltInCacheWrite1hMultiplier,
            Read: read ?? BuiltInCacheReadMultiplier);

        var entries = new List<ModelPriceEntry>(models.Count);
        var byName = new Dictionary<string, CompiledModel>(StringComparer.OrdinalIgnoreCase);
        foreach (var (raw, document) in models)
        {
            var entry = ToEntry(raw, multipliers);
            var compiled = new CompiledModel(entry, batch ?? BuiltInBatchMultiplier);
            entries.Add(entry);
            byName.Add(raw.Id, compiled);
            foreach (var alias in raw.Aliases)
            {
                // Stryker disable once Block,Statement,String : not reachable (docs/testing.md, pricing): the file reader refuses a name claimed twice in a file, and a replaced entry's names leave with it, so every alias is new here
                if (!byName.TryAdd(alias, compiled))
                {
                    throw PriceBookException.At(document.SourceName, raw.Path + ".aliases", $"alias '{alias}' is already used by another model.");
                }
            }
        }

        var tierMap = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (tier, (model, document, path)) in tiers)
        {
            if (!byName.ContainsKey(model))
            {
                throw PriceBookException.At(document.SourceName, path, $"tier '{tier}' names model '{model}', which has no entry in the price book.");
            }

            tierMap[tier] = model;
        }

        if (geo.Count == 0)
        {
            geo["global"] = 1m;
            geo["not_available"] = 1m;
            geo["us"] = 1.1m;
        }

        return new PriceBook(
            sourceName,
            entries,
            byName,
            geo,
            tierMap,
            batch ?? BuiltInBatchMultiplier,
            multipliers.Write5m,
            multipliers.Write1h,
            multipliers.Read,
            [.. ServerToolUse.All.Where(serverTools.ContainsKey).Select(tool => ToServerToolEntry(serverTools[tool]))]);
    }

    private static ServerToolPriceEntry ToServerToolEntry(PriceBookDocument.RawServerTool raw) => new()
    {
        Tool = raw.Tool,
        DisplayName = raw.DisplayName,
        Source = raw.Source,
        Periods = raw.Periods.ConvertAll(p => new ServerToolPrice(raw.Tool, p.From, p.To, p.PerThousand)).AsReadOnly(),
    };

    private static ModelPriceEntry ToEntry(PriceBookDocument.RawModel raw, (decimal Write5m, decimal Write1h, decimal Read) m)
    {
        var periods = new List<ModelPrice>(raw.Periods.Count);
        foreach (var p in raw.Periods)
        {
            LongContextPrice? longContext = null;
            if (p.LongContext is { } lc)
            {
                longContext = new LongContextPrice(
                    lc.ThresholdTokens,
                    lc.Input,
                    lc.Output,
                    lc.CacheWrite5m ?? lc.Input * m.Write5m,
                    lc.CacheWrite1h ?? lc.Input * m.Write1h,
                    lc.CacheRead ?? lc.Input * m.Read);
            }

            periods.Add(new ModelPrice(
                raw.Id,
                p.From,
                p.To,
                p.Input,
                p.Output,
                p.CacheWrite5m ?? p.Input * m.Write5m,
                p.CacheWrite1h ?? p.Input * m.Write1h,
                p.CacheRead ?? p.Input * m.Read,
                longContext,
                p.FastMultiplier));
        }

        return new ModelPriceEntry
        {
            Id = raw.Id,
            Aliases = raw.Aliases.AsReadOnly(),
            DisplayName = raw.DisplayName,
            Family = raw.Family,
            Source = raw.Source,
            MinCacheableTokens = raw.MinCacheableTokens,
            Status = raw.Status,
            Released = raw.Released,
            Retirement = raw.Retirement,
            ContextWindow = raw.ContextWindow,
            MaxOutput = raw.MaxOutput,
            Substitutes = raw.Substitutes.AsReadOnly(),
            Rules = raw.Rules ?? Catalog.ModelRules.Permissive,
            Periods = periods.AsReadOnly(),
        };
    }

    private List<string> ComputeUnpricedSdkModels()
    {
        var result = new List<string>();
        foreach (var value in Enum.GetValues<Anthropic.Models.Messages.Model>())
        {
            var id = SdkModelId(value);
            if (!_byName.ContainsKey(id))
            {
                result.Add(id);
            }
        }

        return result;
    }

    private static string SdkModelId(Anthropic.Models.Messages.Model value)
    {
        try
        // Stryker disable once Block : equivalent (docs/testing.md, pricing): without the wire id the naming convention gives the same id for every model of the pinned SDK (PricingMarkSurvivorTests checks each)
        {
            Anthropic.Core.ApiEnum<string, Anthropic.Models.Messages.Model> wire = value;
            var raw = wire.Raw();
            // Stryker disable once Boolean,String,Block,Statement : equivalent (docs/testing.md, pricing): the wire id and KebabFromEnumName's spelling are the same for every model of the pinned SDK (PricingMarkSurvivorTests checks each)
            if (!string.IsNullOrEmpty(raw))
            {
                return raw;
            }
        }
        catch (InvalidOperationException)
        {
            // Reflection-based JSON is disabled in this app (trimming / AOT): fall back to the naming convention.
        }

        return KebabFromEnumName(value.ToString());
    }

    /// <summary><c>ClaudeOpus4_5_20251101</c> → <c>claude-opus-4-5-20251101</c>.</summary>
    internal static string KebabFromEnumName(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (c == '_')
            {
                builder.Append('-');
                continue;
            }

            if (i > 0 && (char.IsUpper(c) || (char.IsDigit(c) && char.IsLetter(name[i - 1]))))
            {
                builder.Append('-');
            }

            builder.Append(char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }
}
