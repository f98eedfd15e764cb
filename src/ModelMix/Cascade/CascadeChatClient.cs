using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Routing;
using SdkStreamEvent = Anthropic.Models.Messages.RawMessageStreamEvent;

namespace ModelMix.Pipeline;

/// <summary>
/// A confidence cascade: the cheapest tier answers first and reports a confidence (structured output, or a verifier
/// call); below the threshold the request escalates to the next tier, up to <see cref="CascadeOptions.MaxEscalations"/>
/// times. The caller gets the final answer, with a <see cref="CascadeResult"/> (confidence, escalation path, total
/// cost) in <see cref="ChatResponse.AdditionalProperties"/>.
/// </summary>
/// <remarks>
/// Every call is tagged in <see cref="ChatOptions.AdditionalProperties"/> (request id, attempt number, policy
/// <c>cascade</c>, a reason such as <c>confidence 0.42 &lt; 0.70 on haiku → sonnet</c>, and the model escalated from),
/// so a ledger stage placed below records every attempt linked to the request. Streaming: the cheaper tiers are asked
/// without streaming (their confidence is needed before anything can be shown); an answer they give that stands is
/// replayed as updates, and the last tier the request can reach streams straight through, unwrapped and unrated.
/// </remarks>
public sealed class CascadeChatClient : DelegatingChatClient
{
    /// <summary>The <see cref="ChatResponse.AdditionalProperties"/> key of the <see cref="CascadeResult"/>.</summary>
    public const string ResultKey = "modelmix.cascade";

    /// <summary>The <see cref="ChatResponse.AdditionalProperties"/> key of the final confidence (a double), when rated.</summary>
    public const string ConfidenceKey = "modelmix.cascade.confidence";

    /// <summary>The <see cref="ChatResponse.AdditionalProperties"/> key of the escalation path (e.g. <c>haiku → sonnet</c>).</summary>
    public const string PathKey = "modelmix.cascade.path";

    private readonly CascadeOptions _options;
    private readonly (string Name, string Model)[] _tiers;
    private readonly Catalog.ModelFit _fit;
    private readonly Dictionary<string, double> _taskThresholds;
    private readonly string _verifierModel;
    private readonly string _verifierName;
    private readonly AttemptRecorder? _recorder;
    private readonly TimeProvider _time;
    private readonly ChatResponseFormat _answerFormat;
    private readonly ChatResponseFormat _ratingFormat;

    /// <summary>Creates the cascade over <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client every tier is called through (put the ledger stage there).</param>
    /// <param name="options">Options; the defaults when null.</param>
    /// <exception cref="ArgumentException">The options are invalid; the message names every bad key.</exception>
    public CascadeChatClient(IChatClient innerClient, CascadeOptions? options = null)
        : base(innerClient)
    {
        _options = options ?? new CascadeOptions();
        _recorder = innerClient.GetService<AttemptRecorder>();
        var prices = _options.PriceBook ?? _recorder?.Prices ?? PriceBook.Default;
        var errors = CascadeOptionsValidator.Check(_options, prices);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid cascade options: " + string.Join(" ", errors), nameof(options));
        }

        _tiers = [.. _options.Tiers.Select(t => (t, Resolve(prices, t)))];
        _fit = new Catalog.ModelFit(prices, _options.TimeProvider);
        _taskThresholds = new Dictionary<string, double>(_options.TaskThresholds ?? new Dictionary<string, double>(), StringComparer.OrdinalIgnoreCase);
        _verifierName = _options.VerifierModel ?? _tiers[0].Name;
        _verifierModel = Resolve(prices, _verifierName);
        _time = _options.TimeProvider ?? TimeProvider.System;
        _answerFormat = ChatResponseFormat.ForJsonSchema(
            Schema(("answer", "string"), ("confidence", "number")), "answer_with_confidence", "The answer and the probability that it is correct.");
        _ratingFormat = ChatResponseFormat.ForJsonSchema(
            Schema(("confidence", "number"), ("reason", "string")), "answer_rating", "The probability that the answer is correct.");
    }

    /// <summary>The models tried in order, cheapest first.</summary>
    public IReadOnlyList<string> Models => [.. _tiers.Select(t => t.Model)];

    /// <summary>The threshold that applies to a request with <paramref name="taskLabel"/>.</summary>
    /// <param name="taskLabel">The request's task label, or null.</param>
    public double ThresholdFor(string? taskLabel) =>
        taskLabel is not null && _taskThresholds.TryGetValue(taskLabel, out var threshold) ? threshold : _options.Threshold;

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var run = Begin(list, options);
        for (var i = 0; ; i++)
        {
            var final = IsFinal(i, run);
            var answer = await AnswerAsync(list, options, i, run, final, cancellationToken).ConfigureAwait(false);
            if (final || answer.Accepted)
            {
                return Finish(answer.Response, run, i, answer.Confidence);
            }

            run.Escalate(i, answer.Confidence, _options.MissingConfidence);
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var run = Begin(list, options);
        var tier = 0;
        for (; !IsFinal(tier, run); tier++)
        {
            var answer = await AnswerAsync(list, options, tier, run, final: false, cancellationToken).ConfigureAwait(false);
            if (answer.Accepted)
            {
                var response = Finish(answer.Response, run, tier, answer.Confidence);
                foreach (var update in response.ToChatResponseUpdates())
                {
                    yield return update;
                }

                yield break;
            }

            run.Escalate(tier, answer.Confidence, _options.MissingConfidence);
        }

        // The last reachable tier: nothing can follow it, so its answer streams through as the caller asked for it.
        var (name, model) = run.Tiers[tier];
        var attempt = run.NextAttempt();
        var callOptions = Tag(options, model, run, attempt);
        var exact = default(TokenUsage);
        var approximate = default(TokenUsage);
        var sawExact = false;
        string? responseModel = null;
        string? responseId = null;
        await foreach (var update in base.GetStreamingResponseAsync(list, callOptions, cancellationToken).ConfigureAwait(false))
        {
            responseModel = update.ModelId ?? responseModel;
            responseId = update.ResponseId ?? responseId;
            if (update.RawRepresentation is SdkStreamEvent streamEvent && ChatUsage.TryApply(ref exact, streamEvent))
            {
                sawExact = true;
            }

            foreach (var content in update.Contents)
            {
                if (content is UsageContent { Details: { } details })
                {
                    approximate = ChatUsage.Add(approximate, ChatUsage.FromUsageDetails(details));
                }
            }

            yield return update;
        }

        var cost = Price(run, model, responseModel, sawExact ? exact : approximate);
        run.Steps.Add(new CascadeStep(attempt, CascadeStepKind.Answer, name, model, responseModel, null, cost, run.Reason));
        var result = run.Result(model, confidence: null);
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ResponseId = responseId,
            ModelId = responseModel,
            AdditionalProperties = Properties(result),
        };
    }

    private bool IsFinal(int tier, Run run) => tier == _tiers.Length - 1 || run.Escalations >= _options.MaxEscalations;

    private Run Begin(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var taskLabel = options.GetTaskLabel();
        var threshold = ThresholdFor(taskLabel);
        var requestId = options.GetRequestId() ?? LedgerIds.New(_time);
        var tiers = _fit.FitTargets(_tiers, ChatRoutingRequest.From(messages, options), out var note); // a tier that would reject the call stands for its fit
        var first = tiers[0];
        var reason = string.Create(
            CultureInfo.InvariantCulture,
            $"cascade: first answer on {RoutingValidation.DescribeTarget(first.Name, first.Model)}; escalates below {threshold:0.00}{note}");
        // Every tier's call and verification shares the request's scope, so the ledger below adds up what the whole
        // cascade cost (ModelMixResponse.CostUsdKey on the answer).
        var scope = ModelMixChatOptions.ScopeOf(options) ?? new RequestScope(requestId);
        return new Run(requestId, taskLabel, threshold, (options.GetAttempt() ?? 1) - 1, reason, tiers) { Scope = scope };
    }

    private async Task<Answer> AnswerAsync(IReadOnlyList<ChatMessage> messages, ChatOptions? options, int tier, Run run, bool final, CancellationToken cancellationToken)
    {
        var (name, model) = run.Tiers[tier];
        var structured = _options.ConfidenceSource == CascadeConfidenceSource.StructuredOutput && options?.ResponseFormat is not ChatResponseFormatJson;
        var attempt = run.NextAttempt();
        var callOptions = Tag(options, model, run, attempt);
        IReadOnlyList<ChatMessage> callMessages = messages;
        if (structured)
        {
            callOptions.ResponseFormat = _answerFormat;
            callMessages = [new ChatMessage(ChatRole.System, _options.ConfidenceInstruction), .. messages];
        }

        var response = await base.GetResponseAsync(callMessages, callOptions, cancellationToken).ConfigureAwait(false);
        var cost = Price(run, model, response.ModelId, ChatUsage.FromResponse(response));
        double? confidence = null;
        var rated = false;
        var toolCall = response.Messages.Any(m => m.Contents.OfType<FunctionCallContent>().Any());
        if (toolCall)
        {
            // A tool call is a step of the caller's loop, not an answer to rate: it stands on this tier.
            rated = true;
        }
        else if (structured)
        {
            _ = CascadeConfidenceParser.TryParseAnswer(response.Text, out var text, out confidence);
            if (!string.Equals(text, response.Text, StringComparison.Ordinal))
            {
                ReplaceText(response, text);
            }

            rated = true;
        }

        run.Steps.Add(new CascadeStep(attempt, CascadeStepKind.Answer, name, model, response.ModelId, confidence, cost, run.Reason));
        if (!rated && (!final || _options.VerifyFinalAnswer))
        {
            confidence = await VerifyAsync(messages, response.Text, options, tier, run, cancellationToken).ConfigureAwait(false);
        }

        if (tier == 0 && confidence is { } first)
        {
            _options.Calibration?.Record(run.TaskLabel, first);
        }

        var accepted = toolCall || (confidence ?? _options.MissingConfidence) >= run.Threshold;
        return new Answer(response, confidence, accepted);
    }

    private async Task<double?> VerifyAsync(IReadOnlyList<ChatMessage> messages, string answer, ChatOptions? callerOptions, int tier, Run run, CancellationToken cancellationToken)
    {
        var (name, model) = run.Tiers[tier];
        var attempt = run.NextAttempt();
        var reason = $"verifier on {RoutingValidation.DescribeTarget(_verifierName, _verifierModel)}: rating the answer of {name}";
        var options = new ChatOptions { ModelId = _verifierModel, MaxOutputTokens = _options.VerifierMaxOutputTokens, ResponseFormat = _ratingFormat }
            .SetRequestId(run.RequestId)
            .SetAttempt(attempt)
            .SetRequestedModel(callerOptions.GetRequestedModel() ?? callerOptions?.ModelId ?? _options.PolicyName)
            .SetRouting(_options.PolicyName, reason)
            .SetTaskLabel(run.TaskLabel)
            .SetSessionId(callerOptions.GetSessionId())
            .SetKeyId(callerOptions.GetKeyId());
        ModelMixChatOptions.SetScope(options, run.Scope);
        var request = new StringBuilder();
        foreach (var message in messages)
        {
            if (message.Role == ChatRole.System || message.Role == ChatRole.User)
            {
                request.Append(message.Role == ChatRole.System ? "[instructions] " : "[user] ").AppendLine(message.Text);
            }
        }

        var prompt = $"Request:\n{Clip(request.ToString())}\n\nAnswer:\n{Clip(answer)}";
        List<ChatMessage> verifierMessages = [new(ChatRole.System, _options.VerifierPrompt), new(ChatRole.User, prompt)];
        var client = _options.Verifier ?? InnerClient;
        var response = await client.GetResponseAsync(verifierMessages, options, cancellationToken).ConfigureAwait(false);
        double? confidence = CascadeConfidenceParser.TryParseRating(response.Text, out var rating) ? rating : null;
        var cost = Price(run, _verifierModel, response.ModelId, ChatUsage.FromResponse(response));
        run.Steps.Add(new CascadeStep(attempt, CascadeStepKind.Verification, _verifierName, _verifierModel, response.ModelId, confidence, cost, reason));

        // The answer step is rated by its verification.
        var answerIndex = run.Steps.FindLastIndex(s => s.Kind == CascadeStepKind.Answer);
        run.Steps[answerIndex] = run.Steps[answerIndex] with { Confidence = confidence };
        return confidence;
    }

    private ChatOptions Tag(ChatOptions? callerOptions, string model, Run run, int attempt)
    {
        var options = callerOptions?.Clone() ?? new ChatOptions();
        options.AdditionalProperties = callerOptions?.AdditionalProperties is { } properties ? new AdditionalPropertiesDictionary(properties) : null;
        options.ModelId = model;
        ModelMixChatOptions.SetScope(options, run.Scope); // the request id travels in the scope: a cache below still hits
        return options
            .SetAttempt(attempt)
            .SetRequestedModel(callerOptions.GetRequestedModel() ?? callerOptions?.ModelId ?? _options.PolicyName)
            .SetRouting(_options.PolicyName, run.Reason)
            .SetEscalatedFrom(run.EscalatedFrom);
    }

    private static ChatResponse Finish(ChatResponse response, Run run, int tier, double? confidence)
    {
        var result = run.Result(run.Tiers[tier].Model, confidence);
        var properties = response.AdditionalProperties ??= [];
        foreach (var (key, value) in Properties(result))
        {
            properties[key] = value;
        }

        return response;
    }

    private static AdditionalPropertiesDictionary Properties(CascadeResult result)
    {
        var properties = new AdditionalPropertiesDictionary
        {
            [ResultKey] = result,
            [PathKey] = result.Path,
            [ModelMixChatOptions.RequestIdKey] = result.RequestId,
        };
        if (result.Confidence is { } confidence)
        {
            properties[ConfidenceKey] = confidence;
        }

        return properties;
    }

    private decimal? Price(Run run, string model, string? responseModel, TokenUsage usage)
    {
        if (_recorder is null)
        {
            return null;
        }

        var priced = _recorder.Price(new LedgerRecord
        {
            Id = string.Empty,
            Timestamp = _time.GetUtcNow(),
            RequestId = run.RequestId,
            RequestedModel = model,
            RoutedModel = model,
            ResponseModel = responseModel,
            Usage = usage,
        });
        return priced.Cost?.Total;
    }

    private string Clip(string text) =>
        text.Length <= _options.VerifierMaxChars ? text : string.Concat(text.AsSpan(0, _options.VerifierMaxChars), " […truncated]");

    private static void ReplaceText(ChatResponse response, string text)
    {
        var message = response.Messages.LastOrDefault(m => m.Role == ChatRole.Assistant);
        if (message is null)
        {
            return;
        }

        var contents = message.Contents.Where(c => c is not TextContent).ToList();
        contents.Add(new TextContent(text));
        message.Contents = contents;
    }

    private static string Resolve(PriceBook prices, string tier) =>
        RoutingValidation.TryResolve(prices, tier, out var model) ? model : throw new ArgumentException($"Unknown tier or model '{tier}'.", nameof(tier));

    private static JsonElement Schema(params (string Name, string Type)[] properties)
    {
        var props = new JsonObject();
        foreach (var (name, type) in properties)
        {
            props[name] = new JsonObject { ["type"] = type };
        }

        var schema = new JsonObject
        {
            ["type"] = "object",
            ["properties"] = props,
            ["required"] = new JsonArray([.. properties.Select(p => (JsonNode)JsonValue.Create(p.Name))]),
            ["additionalProperties"] = false,
        };
        using var document = JsonDocument.Parse(schema.ToJsonString());
        return document.RootElement.Clone();
    }

    private readonly record struct Answer(ChatResponse Response, double? Confidence, bool Accepted);

    private sealed class Run(string requestId, string? taskLabel, double threshold, int attemptBase, string firstReason, IReadOnlyList<(string Name, string Model)> tiers)
    {
        /// <summary>This call's tiers (the configured ones, or their fits for a call some tier would reject).</summary>
        public IReadOnlyList<(string Name, string Model)> Tiers { get; } = tiers;

        private int _attempt = attemptBase;

        public string RequestId { get; } = requestId;

        /// <summary>The request's shared state, which the ledger stage below adds every tier's cost to.</summary>
        public required RequestScope Scope { get; init; }

        public string? TaskLabel { get; } = taskLabel;

        public double Threshold { get; } = threshold;

        public string Reason { get; private set; } = firstReason;

        public string? EscalatedFrom { get; private set; }

        public int Escalations { get; private set; }

        public List<CascadeStep> Steps { get; } = [];

        public int NextAttempt() => ++_attempt;

        public void Escalate(int tier, double? confidence, double missingConfidence)
        {
            var (name, model) = Tiers[tier];
            var next = Tiers[tier + 1].Name;
            Reason = confidence is { } c
                ? string.Create(CultureInfo.InvariantCulture, $"confidence {c:0.00} < {Threshold:0.00} on {name} → {next}")
                : string.Create(CultureInfo.InvariantCulture, $"no confidence (counted as {missingConfidence:0.00}) < {Threshold:0.00} on {name} → {next}");
            EscalatedFrom = model;
            Escalations++;
        }

        public CascadeResult Result(string finalModel, double? confidence)
        {
            decimal? total = 0m;
            foreach (var step in Steps)
            {
                total = step.Cost is { } cost && total is { } sum ? sum + cost : null;
            }

            return new CascadeResult(RequestId, [.. Steps], finalModel, confidence, Threshold, Escalations, total);
        }
    }
}
