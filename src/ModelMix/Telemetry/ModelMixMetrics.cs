using System.Diagnostics.Metrics;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Telemetry;

/// <summary>
/// ModelMix's metrics, on the <c>ModelMix</c> meter: ModelMix's own instruments
/// (<c>modelmix.cost_usd</c>, <c>modelmix.route</c>, <c>modelmix.escalations</c>, <c>modelmix.attempts</c>,
/// <c>modelmix.cache_miss_unexpected</c>, <c>modelmix.thinking_dropped</c>).
/// Exported to Prometheus these read <c>modelmix_cost_usd_total{model,effort}</c>, <c>modelmix_route_total{model,reason}</c>,
/// <c>modelmix_thinking_dropped_total{model}</c>, ….
/// Metrics are for dashboards; the ledger is the exact record (costs here are doubles).
/// <para>
/// The GenAI semantic-convention client instruments (<c>gen_ai.client.token.usage</c>,
/// <c>gen_ai.client.operation.duration</c>) are created only when asked for (<c>genAiClientMetrics</c>): the proxy asks,
/// since it is the GenAI client of its upstream calls; in the library door Microsoft.Extensions.AI's
/// <c>UseOpenTelemetry</c> records them, and recording them here too would double every sum.
/// </para>
/// <para>
/// Label values are bounded, since callers and the upstream choose some of them: a model the catalog knows is labelled
/// with the catalog's spelling whatever casing was sent (<c>CLAUDE-HAIKU-4-5</c> counts as <c>claude-haiku-4-5</c>);
/// models it does not know, task labels and error types keep their first <see cref="MaxUnlistedModels"/>,
/// <see cref="MaxTaskLabels"/> and <see cref="MaxErrorTypes"/> distinct values (in any casing), and later ones are
/// counted as <c>other</c>. Efforts and policies come from fixed sets and the configuration.
/// </para>
/// </summary>
public sealed class ModelMixMetrics : IDisposable
{
    /// <summary>The meter name to subscribe to (e.g. <c>AddMeter(ModelMixMetrics.MeterName)</c>).</summary>
    public const string MeterName = "ModelMix";

    private readonly Meter _meter;
    private readonly Histogram<long>? _tokens;
    private readonly Histogram<double>? _duration;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _route;
    private readonly Counter<long> _escalations;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _shadow;
    private readonly Histogram<double> _shadowAgreement;
    private readonly Counter<long> _cacheMissUnexpected;
    private readonly Counter<long> _thinkingDropped;
    private readonly PriceBook _prices;
    private readonly BoundedLabel _unlistedModels = new(MaxUnlistedModels);
    private readonly BoundedLabel _tasks = new(MaxTaskLabels);
    private readonly BoundedLabel _errorTypes = new(MaxErrorTypes);

    /// <summary>Distinct model names the catalog does not know that get a label of their own; later ones are <c>other</c>.</summary>
    public const int MaxUnlistedModels = 32;

    /// <summary>Distinct task labels (<c>x-modelmix-task</c>) that get a label of their own; later ones are <c>other</c>.</summary>
    public const int MaxTaskLabels = 64;

    /// <summary>Distinct error types (some are the upstream's) that get a label of their own; later ones are <c>other</c>.</summary>
    public const int MaxErrorTypes = 64;

    /// <summary>
    /// Creates the instruments on a meter from <paramref name="meterFactory"/>, or on a private meter when none is given.
    /// Model labels use <paramref name="prices"/>' spelling of the models it knows (the embedded catalog when none is given).
    /// </summary>
    public ModelMixMetrics(IMeterFactory? meterFactory = null, PriceBook? prices = null)
        : this(meterFactory, prices, genAiClientMetrics: false)
    {
    }

    /// <summary>
    /// Creates the instruments; with <paramref name="genAiClientMetrics"/> also the GenAI client instruments
    /// (<c>gen_ai.client.token.usage</c>, <c>gen_ai.client.operation.duration</c>), for a door that makes the upstream
    /// calls itself (the proxy). Leave it off where Microsoft.Extensions.AI's <c>UseOpenTelemetry</c> records them.
    /// </summary>
    public ModelMixMetrics(IMeterFactory? meterFactory, PriceBook? prices, bool genAiClientMetrics)
    {
        _prices = prices ?? PriceBook.Default;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        if (genAiClientMetrics)
        {
            _tokens = _meter.CreateHistogram<long>("gen_ai.client.token.usage", "{token}", "Tokens used per call, by gen_ai.token.type (input, output).");
            _duration = _meter.CreateHistogram<double>("gen_ai.client.operation.duration", "s", "Duration of each upstream attempt.");
        }

        _cost = _meter.CreateCounter<double>("modelmix.cost_usd", null, "Cost of the recorded attempts in US dollars, by model and effort (exact values are in the ledger).");
        _route = _meter.CreateCounter<long>("modelmix.route", null, "Requests routed, by model and routing policy.");
        _escalations = _meter.CreateCounter<long>("modelmix.escalations", null, "Attempts that escalated from a cheaper model.");
        _attempts = _meter.CreateCounter<long>("modelmix.attempts", null, "Upstream attempts, by model and status.");
        _shadow = _meter.CreateCounter<long>("modelmix.shadow", null, "Shadow mode outcomes, by result (sampled, compared, dropped, budget_exhausted, shadow_failed, judge_failed, skipped, error).");
        _shadowAgreement = _meter.CreateHistogram<double>("modelmix.shadow.agreement", null, "Agreement 0..1 of each compared shadow pair, by task and method.");
        _cacheMissUnexpected = _meter.CreateCounter<long>("modelmix.cache_miss_unexpected", null, "Calls that carried cache_control breakpoints but whose usage shows neither a cache write nor a cache read.");
        _thinkingDropped = _meter.CreateCounter<long>("modelmix.thinking_dropped", null, "Thinking blocks the API dropped from prompts (input_transformations of type thinking_dropped): reasoning paid for and not reused.");
    }

    /// <summary>
    /// Counts one recorded attempt: tokens, duration, cost (by model and effort, <c>none</c> when the record has no
    /// effort), status, dropped thinking blocks and, for first attempts, the route.
    /// </summary>
    public void Record(LedgerRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var routed = ModelLabel(record.RoutedModel);
        var model = record.ResponseModel is { } response ? ModelLabel(response) : routed;
        var modelTag = new KeyValuePair<string, object?>("gen_ai.request.model", routed);
        var provider = new KeyValuePair<string, object?>("gen_ai.provider.name", ModelMixActivity.ProviderName);
        var operation = new KeyValuePair<string, object?>("gen_ai.operation.name", "chat");
        _attempts.Add(1, modelTag, new("status", StatusName(record.Status)), new("error.type", record.ErrorType is { } errorType ? _errorTypes.Of(errorType) : null));
        _duration?.Record(record.LatencyMs / 1000.0, modelTag, provider, operation, new("gen_ai.response.model", model));
        var usage = record.Usage;
        if (_tokens is not null && usage.TotalInputTokens > 0)
        {
            _tokens.Record(usage.TotalInputTokens, modelTag, provider, operation, new("gen_ai.token.type", "input"));
        }

        if (_tokens is not null && usage.OutputTokens > 0)
        {
            _tokens.Record(usage.OutputTokens, modelTag, provider, operation, new("gen_ai.token.type", "output"));
        }

        if (record.Cost is { } cost && cost.Total != 0m)
        {
            _cost.Add((double)cost.Total, new KeyValuePair<string, object?>("model", routed), new("effort", record.Effort ?? "none"));
        }

        if (record.ThinkingBlocksDropped > 0)
        {
            _thinkingDropped.Add(record.ThinkingBlocksDropped, new KeyValuePair<string, object?>("model", routed));
        }

        if (record.Attempt == 1)
        {
            _route.Add(1, new KeyValuePair<string, object?>("model", routed), new("reason", record.Policy ?? "unknown"));
        }

        if (record.EscalatedFrom is not null)
        {
            _escalations.Add(1, new KeyValuePair<string, object?>("from", ModelLabel(record.EscalatedFrom)), new("to", routed));
        }
    }

    /// <summary>Counts one shadow mode outcome (<c>modelmix_shadow_total{result}</c>).</summary>
    public void RecordShadow(string result) => _shadow.Add(1, new KeyValuePair<string, object?>("result", result));

    /// <summary>Records the agreement of one compared shadow pair.</summary>
    public void RecordShadowAgreement(double agreement, string? task, string method) =>
        _shadowAgreement.Record(agreement, new KeyValuePair<string, object?>("task", task is null ? "none" : _tasks.Of(task)), new("method", method));

    /// <summary>
    /// Counts a call that carried <c>cache_control</c> breakpoints but whose usage shows neither a cache write nor a read
    /// (<c>modelmix_cache_miss_unexpected_total{model}</c>): the API silently cached nothing.
    /// </summary>
    /// <param name="model">The model that answered.</param>
    public void CountUnexpectedCacheMiss(string model) =>
        _cacheMissUnexpected.Add(1, new KeyValuePair<string, object?>("model", ModelLabel(model)));

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();

    /// <summary>A model's label: the catalog's spelling when the catalog knows it, else bounded (<see cref="MaxUnlistedModels"/>).</summary>
    private string ModelLabel(string model) =>
        _prices.TryGetCatalogName(model, out var name) ? name : _unlistedModels.Of(model);

    private static string StatusName(LedgerStatus status) => status switch
    {
        LedgerStatus.Ok => "ok",
        LedgerStatus.Error => "error",
        LedgerStatus.Failed => "failed",
        LedgerStatus.Unpriced => "unpriced",
        LedgerStatus.OutcomeUnknown => "outcome_unknown",
        _ => "unknown",
    };
}
