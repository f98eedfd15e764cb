using ModelMix.Catalog;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>
/// The fallback chain's decisions, once for both doors (the library's <see cref="FallbackChatClient"/> and the
/// proxy's <c>ProxyFallback</c>/<c>ProxyCooldowns</c>): the chain resolved from tiers and model ids, where a request
/// goes after a model failed (the next entry after it, a model not in the chain to the first entry, no model twice,
/// an entry that would reject the request as it is replaced by its fit, optionally none dearer than the failed model),
/// where a prompt too long for its window goes, and whether a failed attempt is retried on the same model. It knows
/// nothing of HTTP or of Microsoft.Extensions.AI; models are compared by canonical id (<see cref="KeyOf"/>).
/// </summary>
internal sealed class FallbackChain
{
    private readonly PriceBook _prices;
    private readonly ModelFit _fit;
    private readonly List<FallbackChainEntry> _chain;

    private FallbackChain(PriceBook prices, ModelFit fit, List<FallbackChainEntry> chain, FallbackChainEntry? longContext)
    {
        _prices = prices;
        _fit = fit;
        _chain = chain;
        LongContext = longContext;
    }

    /// <summary>The chain, in order.</summary>
    public IReadOnlyList<FallbackChainEntry> Entries => _chain;

    /// <summary>Where a prompt too long for its model goes, if anywhere.</summary>
    public FallbackChainEntry? LongContext { get; }

    /// <summary>
    /// Resolves <paramref name="chain"/> and <paramref name="longContextModel"/> (tiers or model ids) against
    /// <paramref name="prices"/>; <paramref name="problems"/> names every entry that is neither, and every model listed twice.
    /// </summary>
    /// <param name="chain">The configured chain.</param>
    /// <param name="longContextModel">The configured long-context model, if any.</param>
    /// <param name="prices">Resolves tiers and ids.</param>
    /// <param name="fit">The catalog's request rules; a fresh one over <paramref name="prices"/> when null.</param>
    /// <param name="section">The configuration section, to name keys in problems.</param>
    /// <param name="problems">What is wrong, empty when the chain is usable.</param>
    public static FallbackChain Create(IEnumerable<string>? chain, string? longContextModel, PriceBook prices, ModelFit? fit, string section, out List<string> problems)
    {
        ArgumentNullException.ThrowIfNull(prices);
        problems = [];
        var entries = new List<FallbackChainEntry>();
        var index = 0;
        foreach (var name in chain ?? [])
        {
            if (Resolve(prices, name) is not { } entry)
            {
                problems.Add($"'{section}:Chain:{index}' is '{name}', neither a tier ({string.Join(", ", prices.Tiers.Keys)}) nor a model in the price book {prices.SourceName}.");
            }
            else if (entries.Exists(e => e.Key == entry.Key))
            {
                problems.Add($"'{section}:Chain:{index}' lists {entry.Key} twice.");
            }
            else
            {
                entries.Add(entry);
            }

            index++;
        }

        FallbackChainEntry? longContext = null;
        if (longContextModel is { Length: > 0 })
        {
            longContext = Resolve(prices, longContextModel);
            if (longContext is null)
            {
                problems.Add($"'{section}:LongContextModel' is '{longContextModel}', neither a tier nor a model in the price book {prices.SourceName}.");
            }
        }

        return new FallbackChain(prices, fit ?? new ModelFit(prices), entries, longContext);
    }

    /// <summary>A tier as its model; a model id or alias as given, with its canonical id; null when it is neither.</summary>
    public static FallbackChainEntry? Resolve(PriceBook prices, string? tierOrModel)
    {
        ArgumentNullException.ThrowIfNull(prices);
        if (string.IsNullOrWhiteSpace(tierOrModel))
        {
            return null;
        }

        if (prices.Tiers.ContainsKey(tierOrModel))
        {
            var model = prices.ResolveTier(tierOrModel);
            return new FallbackChainEntry(model, model);
        }

        return prices.TryResolveId(tierOrModel, out var id) ? new FallbackChainEntry(tierOrModel, id) : null;
    }

    /// <summary>The canonical id of <paramref name="model"/> (the name itself when the price book does not know it).</summary>
    public string KeyOf(string model) => _prices.TryResolveId(model, out var id) ? id : model;

    /// <summary>
    /// Where a request goes after <paramref name="failed"/> failed: the first chain entry after it (after none, when it
    /// is not in the chain) that was not tried, replaced by its fit when it would reject <paramref name="request"/> as
    /// it is; with <paramref name="noDearerThan"/>, only a model no dearer per token than that one (a budget hold for it
    /// still covers the worst case). Null when the chain has nowhere left.
    /// </summary>
    /// <param name="failed">The model that failed (null: the call had no model, the chain starts at its first entry).</param>
    /// <param name="tried">The canonical ids (<see cref="KeyOf"/>) of the models tried so far.</param>
    /// <param name="request">What the call asks of a model.</param>
    /// <param name="noDearerThan">A model the next one must not be dearer than, or null.</param>
    /// <param name="at">When, for prices.</param>
    public FallbackChainEntry? Next(string? failed, IReadOnlySet<string> tried, in RoutingRequest request, string? noDearerThan = null, DateTimeOffset at = default)
    {
        ArgumentNullException.ThrowIfNull(tried);
        var start = 0;
        if (failed is not null)
        {
            var key = KeyOf(failed);
            start = _chain.FindIndex(e => e.Key == key) + 1;
        }

        for (var i = start; i < _chain.Count; i++)
        {
            FallbackChainEntry? candidate = _chain[i];
            if (tried.Contains(candidate.Value.Key))
            {
                continue;
            }

            if (_fit.Check(candidate.Value.Model, request) != RuleViolation.None)
            {
                // A chain entry that would reject the request as it is stands for its fit, as a routing decision does.
                candidate = _fit.Substitute(candidate.Value.Model, request, tried) is { } substitute && KeyOf(substitute) is var key && !tried.Contains(key)
                    ? new FallbackChainEntry(substitute, key)
                    : null;
            }

            if (candidate is { } next && (noDearerThan is null || NoDearer(next.Model, noDearerThan, at)))
            {
                return next;
            }
        }

        return null;
    }

    /// <summary>Where a prompt too long for its model goes: <see cref="LongContext"/> when it was not tried and accepts the request as it is; else null.</summary>
    public FallbackChainEntry? NextForLongPrompt(IReadOnlySet<string> tried, in RoutingRequest request)
    {
        ArgumentNullException.ThrowIfNull(tried);
        return LongContext is { } wide && !tried.Contains(wide.Key) && _fit.Check(wide.Model, request) == RuleViolation.None ? wide : null;
    }

    /// <summary>
    /// Whether a failed attempt is retried on the same model: it failed in a way another try may not (429, 529, 5xx,
    /// timeout, unreachable) and the wait the server asked for, if any, is no longer than <paramref name="longestWait"/>
    /// (a longer one moves on along the chain at once).
    /// </summary>
    public static bool ShouldRetry(bool retryable, TimeSpan? retryAfter, TimeSpan longestWait) =>
        retryable && (retryAfter is not { } wait || wait <= longestWait);

    private bool NoDearer(string candidate, string failed, DateTimeOffset at) =>
        _prices.TryGetPrice(candidate, at, out var next) && _prices.TryGetPrice(failed, at, out var current)
        && next.Input <= current.Input && next.Output <= current.Output;
}

/// <summary>A model of the fallback chain: the name sent (a tier resolved to its model) and its canonical id, for comparisons.</summary>
/// <param name="Model">The model name sent.</param>
/// <param name="Key">Its canonical id.</param>
internal readonly record struct FallbackChainEntry(string Model, string Key);
