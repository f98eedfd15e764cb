using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// One compiled, validated routing rule: all its conditions must hold for it to match, and then requests go to its
/// model. Reasons are composed once here, so matching a request allocates nothing. Usable on its own in tests.
/// </summary>
public sealed class RoutingRule
{
    private readonly FrozenDictionary<string, string>? _labelReasons;
    private readonly KeywordMatcher? _keywords;
    private readonly long? _minInput;
    private readonly long? _maxInput;
    private readonly int? _minTools;
    private readonly int? _maxTools;
    private readonly bool? _hasImages;
    private readonly bool? _structured;
    private readonly long? _minMaxTokens;
    private readonly long? _maxMaxTokens;
    private readonly int? _minDepth;
    private readonly int? _maxDepth;

    /// <summary>Compiles and validates a rule.</summary>
    /// <param name="options">The rule as configured.</param>
    /// <param name="priceBook">Resolves the target tier or model.</param>
    /// <exception cref="RoutingConfigurationException">The rule is invalid; the message names it and the key.</exception>
    public RoutingRule(RoutingRuleOptions options, PriceBook priceBook)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(priceBook);
        var errors = new List<string>();
        var model = RoutingValidation.CheckRule(options, -1, priceBook, errors);
        if (errors.Count > 0 || model is null)
        {
            throw new RoutingConfigurationException($"rule '{options.Name}'", errors);
        }

        Name = options.Name!;
        Target = options.Target!;
        Model = model;
        RoutingValidation.TryResolveTarget(priceBook, Target, out _, out var targetEffort);
        Effort = options.Effort is { } effortName && RoutingValidation.TryParseEffort(effortName, out var effort) ? effort : targetEffort;
        Confidence = options.Confidence ?? RoutingRuleOptions.DefaultConfidence;
        IsCatchAll = options.HasNoConditions;
        Batch = options.Batch ?? false;
        _minInput = options.MinInputTokens;
        _maxInput = options.MaxInputTokens;
        _minTools = options.MinTools;
        _maxTools = options.MaxTools;
        _hasImages = options.HasImages;
        _structured = options.StructuredOutput;
        _minMaxTokens = options.MinMaxTokens;
        _maxMaxTokens = options.MaxMaxTokens;
        _minDepth = options.MinDepth;
        _maxDepth = options.MaxDepth;
        if (options.Keywords is { Count: > 0 } keywords)
        {
            _keywords = new KeywordMatcher(keywords);
        }

        var target = RoutingValidation.DescribeTarget(Target, Model);
        if (Effort != Catalog.EffortLevel.Unspecified && Target.IndexOf('@') < 0)
        {
            target += $" at effort {Catalog.RequestTraitsReader.WireName(Effort)}";
        }

        var rest = DescribeConditions(options, includeLabels: false);
        var labels = options.TaskLabels is { Count: > 0 } list ? list.Select(l => l.Trim()).Distinct(StringComparer.OrdinalIgnoreCase).ToArray() : [];
        var all = labels.Length == 0 ? rest : Join($"task label in [{string.Join(", ", labels)}]", rest);
        target = Batch ? target + ", batched" : target;
        Reason = $"rule '{Name}': {(all.Length == 0 ? "no earlier rule matched" : all)} → {target}";
        if (labels.Length > 0)
        {
            _labelReasons = labels.ToFrozenDictionary(
                l => l,
                l => $"rule '{Name}': {Join($"task label '{l}'", rest)} → {target}",
                StringComparer.OrdinalIgnoreCase);
        }
    }

    /// <summary>The effort the rule sends with the routed request; <see cref="Catalog.EffortLevel.Unspecified"/> to keep the caller's.</summary>
    public Catalog.EffortLevel Effort { get; }

    /// <summary>The rule's unique name.</summary>
    public string Name { get; }

    /// <summary>The target as configured (a tier or a model name).</summary>
    public string Target { get; }

    /// <summary>The canonical model id the target resolved to.</summary>
    public string Model { get; }

    /// <summary>The confidence reported with this rule's decisions.</summary>
    public double Confidence { get; }

    /// <summary>Whether matching requests go to the batch queue (<see cref="RoutingRuleOptions.Batch"/>).</summary>
    public bool Batch { get; }

    /// <summary>Whether the rule has no conditions and so matches every request.</summary>
    public bool IsCatchAll { get; }

    /// <summary>The reason this rule gives, listing its conditions, e.g. <c>rule 'x': input ≥ 20K tokens → sonnet (claude-sonnet-4-6)</c>.</summary>
    public string Reason { get; }

    /// <summary>Whether every condition of the rule holds for <paramref name="request"/>. Allocation-free.</summary>
    /// <param name="request">The request's routing features.</param>
    public bool Matches(in RoutingRequest request)
    {
        // Cheap numeric checks first, the label lookup next, the text scan last.
        var input = request.EstimatedInputTokens;
        if ((_minInput is { } minIn && input < minIn) || (_maxInput is { } maxIn && input > maxIn))
        {
            return false;
        }

        var tools = request.ToolCount;
        if ((_minTools is { } minT && tools < minT) || (_maxTools is { } maxT && tools > maxT))
        {
            return false;
        }

        if ((_hasImages is { } images && images != request.HasImages)
            || (_structured is { } structured && structured != request.StructuredOutput))
        {
            return false;
        }

        if (_minMaxTokens is not null || _maxMaxTokens is not null)
        {
            if (request.MaxTokens is not { } maxTokens
                || (_minMaxTokens is { } minM && maxTokens < minM)
                || (_maxMaxTokens is { } maxM && maxTokens > maxM))
            {
                return false;
            }
        }

        var depth = request.ConversationDepth;
        if ((_minDepth is { } minD && depth < minD) || (_maxDepth is { } maxD && depth > maxD))
        {
            return false;
        }

        if (_labelReasons is not null && (request.TaskLabel is not { } label || !_labelReasons.ContainsKey(label)))
        {
            return false;
        }

        return _keywords is null || _keywords.IsMatch(request.Text.Span) || (request.TaskLabel is { } task && _keywords.IsMatch(task));
    }

    /// <summary>
    /// The precomposed reason for a request this rule matched: names the request's task label when the rule has
    /// label conditions, else <see cref="Reason"/>. Allocation-free.
    /// </summary>
    /// <param name="request">A request the rule matched.</param>
    public string ReasonFor(in RoutingRequest request) =>
        _labelReasons is not null && request.TaskLabel is { } label && _labelReasons.TryGetValue(label, out var reason)
            ? reason
            : Reason;

    /// <summary>
    /// Explains, condition by condition and with the request's actual values, why this rule does or does not match
    /// (e.g. <c>~1.2K input tokens ≤ 8K ✓</c>). For logs and debugging: unlike <see cref="Matches"/>, it allocates.
    /// </summary>
    /// <param name="request">The request's routing features.</param>
    public string Explain(in RoutingRequest request)
    {
        var parts = new List<string>();
        var input = request.EstimatedInputTokens;
        if (_labelReasons is not null)
        {
            var ok = request.TaskLabel is { } l && _labelReasons.ContainsKey(l);
            parts.Add($"task label {(request.TaskLabel is null ? "(none)" : $"'{request.TaskLabel}'")} in [{string.Join(", ", _labelReasons.Keys)}] {Mark(ok)}");
        }

        if (_keywords is not null)
        {
            var index = _keywords.IndexOfMatch(request.Text.Span);
            var inLabel = index < 0 && request.TaskLabel is { } task ? _keywords.IndexOfMatch(task) : -1;
            parts.Add(index >= 0 ? $"keyword '{_keywords.Describe(index)}' found ✓"
                : inLabel >= 0 ? $"keyword '{_keywords.Describe(inLabel)}' found in the task label ✓"
                : "no keyword found ✗");
        }

        if (_minInput is { } minIn)
        {
            parts.Add($"~{Approx(input)} input tokens ≥ {RoutingValidation.Tokens(minIn)} {Mark(input >= minIn)}");
        }

        if (_maxInput is { } maxIn)
        {
            parts.Add($"~{Approx(input)} input tokens ≤ {RoutingValidation.Tokens(maxIn)} {Mark(input <= maxIn)}");
        }

        if (_minTools is { } minT)
        {
            parts.Add($"{request.ToolCount} tools ≥ {minT} {Mark(request.ToolCount >= minT)}");
        }

        if (_maxTools is { } maxT)
        {
            parts.Add($"{request.ToolCount} tools ≤ {maxT} {Mark(request.ToolCount <= maxT)}");
        }

        if (_hasImages is { } images)
        {
            parts.Add($"images {(request.HasImages ? "present" : "absent")} {Mark(images == request.HasImages)}");
        }

        if (_structured is { } structured)
        {
            parts.Add($"structured output {(request.StructuredOutput ? "requested" : "not requested")} {Mark(structured == request.StructuredOutput)}");
        }

        if (_minMaxTokens is not null || _maxMaxTokens is not null)
        {
            var ok = request.MaxTokens is { } m && (_minMaxTokens is not { } lo || m >= lo) && (_maxMaxTokens is not { } hi || m <= hi);
            parts.Add($"max_tokens {(request.MaxTokens?.ToString(CultureInfo.InvariantCulture) ?? "(unset)")} in [{_minMaxTokens?.ToString(CultureInfo.InvariantCulture) ?? "0"}, {_maxMaxTokens?.ToString(CultureInfo.InvariantCulture) ?? "∞"}] {Mark(ok)}");
        }

        if (_minDepth is not null || _maxDepth is not null)
        {
            var d = request.ConversationDepth;
            var ok = (_minDepth is not { } lo || d >= lo) && (_maxDepth is not { } hi || d <= hi);
            parts.Add($"depth {d} in [{_minDepth?.ToString(CultureInfo.InvariantCulture) ?? "0"}, {_maxDepth?.ToString(CultureInfo.InvariantCulture) ?? "∞"}] {Mark(ok)}");
        }

        var matched = Matches(request);
        var detail = parts.Count == 0 ? "catch-all" : string.Join("; ", parts);
        return $"rule '{Name}' {(matched ? "matches" : "does not match")}: {detail}{(matched ? $" → {RoutingValidation.DescribeTarget(Target, Model)}" : string.Empty)}";
    }

    /// <inheritdoc />
    public override string ToString() => Reason;

    private static string Mark(bool ok) => ok ? "✓" : "✗";

    private static string Approx(long tokens) =>
        tokens >= 1000 ? (tokens / 1000.0).ToString("0.#", CultureInfo.InvariantCulture) + "K" : tokens.ToString(CultureInfo.InvariantCulture);

    private static string Join(string first, string rest) => rest.Length == 0 ? first : $"{first}, {rest}";

    private static string DescribeConditions(RoutingRuleOptions o, bool includeLabels)
    {
        var parts = new List<string>();
        if (includeLabels && o.TaskLabels is { Count: > 0 } labels)
        {
            parts.Add($"task label in [{string.Join(", ", labels)}]");
        }

        if (o.Keywords is { Count: > 0 } keywords)
        {
            var shown = keywords.Take(6).Select(k => $"'{k.Trim()}'");
            parts.Add($"text mentions {string.Join(" or ", shown)}{(keywords.Count > 6 ? $" (or {keywords.Count - 6} more)" : string.Empty)}");
        }

        parts.Add(Range("input", o.MinInputTokens, o.MaxInputTokens, " tokens", RoutingValidation.Tokens));
        parts.Add(Range("tools", o.MinTools, o.MaxTools, string.Empty, v => v.ToString(CultureInfo.InvariantCulture)));
        if (o.HasImages is { } images)
        {
            parts.Add(images ? "has images" : "no images");
        }

        if (o.StructuredOutput is { } structured)
        {
            parts.Add(structured ? "structured output" : "free-text output");
        }

        parts.Add(Range("max_tokens", o.MinMaxTokens, o.MaxMaxTokens, string.Empty, v => v.ToString(CultureInfo.InvariantCulture)));
        parts.Add(Range("depth", o.MinDepth, o.MaxDepth, " turns", v => v.ToString(CultureInfo.InvariantCulture)));
        return string.Join(", ", parts.Where(p => p.Length > 0));
    }

    private static string Range<T>(string what, T? min, T? max, string unit, Func<T, string> format)
        where T : struct
    {
        var sb = new StringBuilder();
        if (min is { } lo && max is { } hi)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{what} {format(lo)}–{format(hi)}{unit}");
        }
        else if (min is { } lo2)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{what} ≥ {format(lo2)}{unit}");
        }
        else if (max is { } hi2)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{what} ≤ {format(hi2)}{unit}");
        }

        return sb.ToString();
    }
}
