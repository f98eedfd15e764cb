using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// Asks a cheap classifier model which tier a request needs (structured JSON output
/// <c>{"tier":"haiku|sonnet|opus","reason":"…"}</c>) and routes it there. A malformed classification, or a failed
/// classifier call, falls back to <see cref="MetaRouterOptions.DefaultTier"/> with a reason that says so, and is
/// counted in <see cref="Statistics"/>.
/// </summary>
/// <remarks>
/// The classifier call goes through the <see cref="IChatClient"/> given, so a client wrapped with
/// <c>UseModelMixLedger</c> records its cost; the call carries the request id (when the caller passes one), the
/// policy name and the task label, session and key in <see cref="ChatOptions.AdditionalProperties"/>, so the
/// classification's record is linked to the request it routed.
/// </remarks>
public sealed class MetaRouterPolicy : IRoutingPolicy
{
    /// <summary>The name a meta-router has unless given another.</summary>
    public const string DefaultName = "meta";

    private readonly IChatClient _classifier;
    private readonly MetaRouterOptions _options;
    private readonly string _classifierModel;
    private readonly string _classifierTarget;
    /// <summary>The catalog tier the meta-router leaves out unless its tiers are configured: the dearest, never a default.</summary>
    public const string DefaultExcludedTier = "fable";

    private readonly Dictionary<string, string> _tierModels;
    private readonly Dictionary<string, Catalog.EffortLevel> _tierEfforts = new(StringComparer.OrdinalIgnoreCase);
    private readonly string[] _tiers;
    private readonly string? _fallbackTier;
    private readonly string? _fallbackModel;
    private readonly ChatResponseFormat _format;
    private readonly int _schemaBytes;

    /// <summary>Creates a meta-router.</summary>
    /// <param name="classifier">The client the classification call is made with (wrap it with the ledger stage to record its cost).</param>
    /// <param name="priceBook">Resolves tiers to models.</param>
    /// <param name="options">Options; the defaults when null.</param>
    /// <param name="statistics">Where outcomes are counted; a new instance when null.</param>
    /// <exception cref="RoutingConfigurationException">A tier, the default tier or the classifier model is unknown, or a number is out of range.</exception>
    public MetaRouterPolicy(IChatClient classifier, PriceBook priceBook, MetaRouterOptions? options = null, MetaRouterStatistics? statistics = null)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(priceBook);
        _classifier = classifier;
        _options = options ?? new MetaRouterOptions();
        Statistics = statistics ?? new MetaRouterStatistics();

        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(_options.Name))
        {
            errors.Add("MetaRouter:Name is required.");
        }

        // By default the classifier chooses among the catalog's tiers except fable, which only pins, rules, cascades and
        // configured tier lists reach (docs/models.md).
        var tiers = _options.Tiers is { Count: > 0 } configured
            ? configured
            : [.. priceBook.Tiers.Keys.Where(tier => !string.Equals(tier, DefaultExcludedTier, StringComparison.OrdinalIgnoreCase))];
        _tierModels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var tier in tiers)
        {
            if (string.IsNullOrWhiteSpace(tier))
            {
                errors.Add("MetaRouter:Tiers has an empty entry.");
            }
            else if (!RoutingValidation.TryResolveTarget(priceBook, tier, out var model, out var effort))
            {
                errors.Add($"MetaRouter:Tiers '{tier}' is neither a tier ({string.Join(", ", priceBook.Tiers.Keys)}) nor a model in the price book {priceBook.SourceName} (optionally with an effort, e.g. opus@low).");
            }
            else if (!_tierModels.TryAdd(tier, model))
            {
                errors.Add($"MetaRouter:Tiers lists '{tier}' twice.");
            }
            else
            {
                _tierEfforts[tier] = effort; // a tier such as opus@low lets the classifier choose an effort too
            }
        }

        _tiers = [.. _tierModels.Keys];
        _classifierModel = string.Empty;
        if (string.IsNullOrWhiteSpace(_options.ClassifierModel) || !RoutingValidation.TryResolve(priceBook, _options.ClassifierModel, out _classifierModel))
        {
            errors.Add($"MetaRouter:ClassifierModel '{_options.ClassifierModel}' is neither a tier nor a model in the price book {priceBook.SourceName}.");
        }

        if (_options.DefaultTier is { } fallback)
        {
            if (RoutingValidation.TryResolve(priceBook, fallback, out var fallbackModel))
            {
                _fallbackTier = fallback;
                _fallbackModel = fallbackModel;
            }
            else
            {
                errors.Add($"MetaRouter:DefaultTier '{fallback}' is neither a tier nor a model in the price book {priceBook.SourceName}.");
            }
        }

        if (string.IsNullOrWhiteSpace(_options.SystemPrompt))
        {
            errors.Add("MetaRouter:SystemPrompt is required.");
        }

        if (_options.MaxPromptChars < 1)
        {
            errors.Add($"MetaRouter:MaxPromptChars {_options.MaxPromptChars} must be at least 1.");
        }

        if (_options.MaxOutputTokens < 1)
        {
            errors.Add($"MetaRouter:MaxOutputTokens {_options.MaxOutputTokens} must be at least 1.");
        }

        if (!IsProbability(_options.ClassifiedConfidence) || !IsProbability(_options.FallbackConfidence))
        {
            errors.Add("MetaRouter:ClassifiedConfidence and MetaRouter:FallbackConfidence must be between 0 and 1.");
        }

        if (errors.Count > 0)
        {
            throw new RoutingConfigurationException(string.Join(Environment.NewLine, errors));
        }

        Name = _options.Name;
        _classifierTarget = RoutingValidation.DescribeTarget(_options.ClassifierModel, _classifierModel);
        var schema = Schema(_tiers);
        _format = ChatResponseFormat.ForJsonSchema(schema, "tier_classification", "The tier a request should be routed to, and why.");
        _schemaBytes = Encoding.UTF8.GetByteCount(schema.GetRawText());
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The counts of classified, malformed and failed classifications.</summary>
    public MetaRouterStatistics Statistics { get; }

    /// <summary>The tiers the classifier may choose, as configured.</summary>
    public IReadOnlyList<string> Tiers => _tiers;

    /// <summary>The price-book id of the classifier's model.</summary>
    public string ClassifierModel => _classifierModel;

    /// <summary>Every model a decision of this policy can name: the tiers' models and the fallback's.</summary>
    public IReadOnlyList<string> Models =>
        [.. _tierModels.Values.Append(_fallbackModel).OfType<string>().Distinct(StringComparer.Ordinal)];

    /// <summary>
    /// The most the classification of <paramref name="request"/> can cost at <paramref name="at"/>. A budget holds this
    /// before the call, since the classifier is paid whether or not the request then goes ahead: its prompt (the system
    /// prompt, the request's description, the schema and a margin for the API's framing) and at most
    /// <see cref="MetaRouterOptions.MaxOutputTokens"/> of answer, priced by <see cref="Budgets.BudgetEstimator.PromptWorstCaseUsd"/>.
    /// </summary>
    /// <exception cref="UnknownModelException">The classifier's model has no price in force at <paramref name="at"/>.</exception>
    public decimal ClassificationWorstCaseUsd(PriceBook prices, in RoutingRequest request, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(prices);
        const int Framing = 1024; // roles, the JSON-output instructions the API adds, the schema's wrapper
        var bytes = (long)Encoding.UTF8.GetByteCount(_options.SystemPrompt) + Encoding.UTF8.GetByteCount(Describe(request))
            + _schemaBytes + Framing;
        return Budgets.BudgetEstimator.PromptWorstCaseUsd(prices, _classifierModel, bytes, _options.MaxOutputTokens, at);
    }

    /// <summary>
    /// Classifies <paramref name="request"/>; the classifier call carries <see cref="RoutingRequest.RequestId"/> (when
    /// the door set it) so its ledger record is linked to the request, or else gets an id of its own.
    /// </summary>
    /// <inheritdoc />
    public ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default) =>
        DecideAsync(request, request.RequestId, cancellationToken);

    /// <summary>
    /// Classifies <paramref name="request"/> and decides; the classifier call carries <paramref name="requestId"/> so
    /// its ledger record (and cost) is linked to the request. Null only when the classification was unusable and no
    /// <see cref="MetaRouterOptions.DefaultTier"/> is configured.
    /// </summary>
    /// <param name="request">The request's routing features.</param>
    /// <param name="requestId">ModelMix's id of the request (see <see cref="ModelMixChatOptions.RequestIdKey"/>), if known.</param>
    /// <param name="cancellationToken">Cancels the classifier call.</param>
    public async ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, string? requestId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var options = new ChatOptions
        {
            ModelId = _classifierModel,
            MaxOutputTokens = _options.MaxOutputTokens,
            ResponseFormat = _format,
        }
            .SetRequestId(requestId)
            .SetAttempt(LedgerRecord.RoutingCallAttempt)
            .SetRouting(Name, $"meta-router classification on {_classifierTarget}")
            .SetTaskLabel(request.TaskLabel)
            .SetSessionId(request.SessionId)
            .SetKeyId(request.KeyId);
        List<ChatMessage> messages =
        [
            new(ChatRole.System, _options.SystemPrompt),
            new(ChatRole.User, Describe(request)),
        ];

        MetaRouterClassification classification;
        try
        {
            var response = await _classifier.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
            classification = MetaRouterClassification.Parse(response.Text, _tiers);
        }
        catch (Exception exception) when (_options.FallBackOnClassifierError && !cancellationToken.IsCancellationRequested)
        {
            Statistics.OnFailed(Name, exception);
            return Fallback($"classifier call failed ({exception.GetType().Name})");
        }

        if (!classification.IsValid)
        {
            Statistics.OnMalformed(Name);
            return Fallback($"malformed classification ({classification.Error})");
        }

        var tier = classification.Tier!;
        var model = _tierModels[tier];
        Statistics.OnClassified(Name, tier);
        var why = string.IsNullOrEmpty(classification.Reason) ? string.Empty : $": {classification.Reason}";
        return new RoutingDecision(model, $"meta-router → {RoutingValidation.DescribeTarget(tier, model)}{why}", _options.ClassifiedConfidence, Name)
        {
            Effort = _tierEfforts.GetValueOrDefault(tier),
        };
    }

    private RoutingDecision? Fallback(string what) =>
        _fallbackTier is null
            ? null
            : new RoutingDecision(
                _fallbackModel!,
                $"meta-router: {what} → fallback {RoutingValidation.DescribeTarget(_fallbackTier, _fallbackModel!)}",
                _options.FallbackConfidence,
                Name);

    private string Describe(in RoutingRequest request)
    {
        var text = new StringBuilder(256 + Math.Min(request.Text.Length, _options.MaxPromptChars));
        var culture = CultureInfo.InvariantCulture;
        text.Append(culture, $"Task label: {request.TaskLabel ?? "(none)"}\n");
        text.Append(culture, $"Estimated input tokens: {request.EstimatedInputTokens}\n");
        text.Append(culture, $"Tools offered: {request.ToolCount}; images: {(request.HasImages ? "yes" : "no")}; ");
        text.Append(culture, $"output parsed by a program: {(request.StructuredOutput ? "yes" : "no")}; turns so far: {request.ConversationDepth}\n");
        text.Append("Request:\n");
        var body = request.Text.Span;
        if (body.Length > _options.MaxPromptChars)
        {
            text.Append(body[.._options.MaxPromptChars]).Append(" […truncated]");
        }
        else
        {
            text.Append(body);
        }

        return text.ToString();
    }

    private static JsonElement Schema(string[] tiers)
    {
        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                ["tier"] = new JsonObject { ["type"] = "string", ["enum"] = new JsonArray([.. tiers.Select(t => (JsonNode)JsonValue.Create(t))]) },
                ["reason"] = new JsonObject { ["type"] = "string" },
            },
            ["required"] = new JsonArray("tier", "reason"),
            ["additionalProperties"] = false,
        };
        using var document = JsonDocument.Parse(schema.ToJsonString());
        return document.RootElement.Clone();
    }

    private static bool IsProbability(double value) => value >= 0 && value <= 1;
}
