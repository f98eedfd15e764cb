using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>The checks shared by <see cref="RoutingRule"/>, <see cref="RulesPolicy"/>, pins and the options validator.</summary>
internal static class RoutingValidation
{
    public static string RuleLabel(RoutingRuleOptions rule, int index) =>
        index < 0
            ? $"rule '{rule.Name}'"
            : string.IsNullOrWhiteSpace(rule.Name) ? $"rule #{index} (Rules:{index})" : $"rule '{rule.Name}' (Rules:{index})";

    /// <summary>Checks one rule on its own; returns the resolved target model id when the target is valid.</summary>
    public static string? CheckRule(RoutingRuleOptions rule, int index, PriceBook priceBook, List<string> errors)
    {
        var label = RuleLabel(rule, index);
        if (string.IsNullOrWhiteSpace(rule.Name))
        {
            errors.Add($"{label}: 'Name' is required.");
        }

        string? model = null;
        if (string.IsNullOrWhiteSpace(rule.Target))
        {
            errors.Add($"{label}: 'Target' is required (a tier such as haiku, sonnet, opus, or a model id).");
        }
        else if (!TryResolveTarget(priceBook, rule.Target, out model, out var targetEffort))
        {
            errors.Add($"{label}: 'Target' '{rule.Target}' {TargetProblem(priceBook, rule.Target)}");
        }
        else if (rule.Effort is { } effortName)
        {
            if (!TryParseEffort(effortName, out var effort))
            {
                errors.Add($"{label}: 'Effort' '{effortName}' must be one of low, medium, high, xhigh, max.");
            }
            else if (targetEffort != Catalog.EffortLevel.Unspecified && targetEffort != effort)
            {
                errors.Add($"{label}: 'Effort' '{effortName}' contradicts the effort in 'Target' '{rule.Target}'.");
            }
        }

        CheckRange(label, "InputTokens", rule.MinInputTokens, rule.MaxInputTokens, errors);
        CheckRange(label, "Tools", rule.MinTools, rule.MaxTools, errors);
        CheckRange(label, "MaxTokens", rule.MinMaxTokens, rule.MaxMaxTokens, errors);
        CheckRange(label, "Depth", rule.MinDepth, rule.MaxDepth, errors);

        if (rule.Confidence is { } confidence && !(confidence >= 0 && confidence <= 1))
        {
            errors.Add($"{label}: 'Confidence' {confidence} must be between 0 and 1.");
        }

        CheckList(label, "TaskLabels", rule.TaskLabels, errors);
        if (rule.Keywords is not null)
        {
            for (var i = 0; i < rule.Keywords.Count; i++)
            {
                var keyword = rule.Keywords[i]?.Trim().TrimEnd('*').Trim();
                if (string.IsNullOrEmpty(keyword))
                {
                    errors.Add($"{label}: 'Keywords:{i}' is empty.");
                }
            }
        }

        return model;
    }

    /// <summary>Checks the rules as an ordered set: each rule, unique names, a catch-all only at the end.</summary>
    public static void CheckRules(IList<RoutingRuleOptions> rules, PriceBook priceBook, List<string> errors)
    {
        var seen = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            if (rule is null)
            {
                errors.Add($"rule #{i} (Rules:{i}): is empty.");
                continue;
            }

            CheckRule(rule, i, priceBook, errors);
            if (!string.IsNullOrWhiteSpace(rule.Name))
            {
                if (seen.TryGetValue(rule.Name, out var first))
                {
                    errors.Add($"{RuleLabel(rule, i)}: 'Name' duplicates rule #{first}; rule names must be unique.");
                }
                else
                {
                    seen.Add(rule.Name, i);
                }
            }

            if (rule.HasNoConditions && i != rules.Count - 1)
            {
                errors.Add($"{RuleLabel(rule, i)}: has no conditions, so it would match every request and shadow the {rules.Count - 1 - i} rule(s) after it; only the last rule may be a catch-all.");
            }
        }
    }

    /// <summary>Checks pins: non-empty labels, unique ignoring case, known targets.</summary>
    public static void CheckPins(IEnumerable<KeyValuePair<string, string>> pins, PriceBook priceBook, List<string> errors)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (label, target) in pins)
        {
            if (string.IsNullOrWhiteSpace(label))
            {
                errors.Add("pin '': the task label is empty.");
                continue;
            }

            if (!seen.Add(label))
            {
                errors.Add($"pin '{label}' (Pins:{label}): duplicates another pin that differs only in case.");
            }

            if (string.IsNullOrWhiteSpace(target))
            {
                errors.Add($"pin '{label}' (Pins:{label}): the target is empty.");
            }
            else if (!TryResolveTarget(priceBook, target, out _, out _))
            {
                errors.Add($"pin '{label}' (Pins:{label}): '{target}' {TargetProblem(priceBook, target)}");
            }
        }
    }

    /// <summary>Checks a whole <see cref="RoutingOptions"/>.</summary>
    public static List<string> Check(RoutingOptions options, PriceBook priceBook)
    {
        var errors = new List<string>();
        if (options.Pins is not null)
        {
            CheckPins(options.Pins, priceBook, errors);
        }

        if (options.Rules is not null)
        {
            CheckRules(options.Rules, priceBook, errors);
        }

        if (string.IsNullOrWhiteSpace(options.Default))
        {
            errors.Add("'Default' is required (a tier or model).");
        }
        else if (!TryResolveTarget(priceBook, options.Default, out _, out _))
        {
            errors.Add($"'Default' '{options.Default}' {TargetProblem(priceBook, options.Default)}");
        }

        return errors;
    }

    /// <summary>Resolves a tier or model name through the price book without throwing.</summary>
    public static bool TryResolve(PriceBook priceBook, string tierOrModel, out string model)
    {
        if (priceBook.Tiers.TryGetValue(tierOrModel, out var tierModel) && priceBook.TryResolveId(tierModel, out var id))
        {
            model = id;
            return true;
        }

        if (priceBook.TryResolveId(tierOrModel, out id))
        {
            model = id;
            return true;
        }

        model = string.Empty;
        return false;
    }

    /// <summary>
    /// Resolves a routing target — a tier or model, optionally with an effort: <c>opus@low</c> — through the price
    /// book without throwing. <paramref name="effort"/> is <see cref="Catalog.EffortLevel.Unspecified"/> without one.
    /// </summary>
    public static bool TryResolveTarget(PriceBook priceBook, string target, out string model, out Catalog.EffortLevel effort)
    {
        var at = target.LastIndexOf('@');
        effort = Catalog.EffortLevel.Unspecified;
        if (at < 0)
        {
            return TryResolve(priceBook, target, out model);
        }

        if (!TryParseEffort(target[(at + 1)..], out effort) || effort == Catalog.EffortLevel.Unspecified)
        {
            model = string.Empty;
            return false;
        }

        return TryResolve(priceBook, target[..at], out model);
    }

    /// <summary>Parses an effort name (<c>low</c>, <c>medium</c>, <c>high</c>, <c>xhigh</c>, <c>max</c>; case-insensitive).</summary>
    public static bool TryParseEffort(string name, out Catalog.EffortLevel effort) => Catalog.RequestTraitsReader.TryParseEffort(name, out effort);

    private static string TargetProblem(PriceBook priceBook, string target) =>
        target.LastIndexOf('@') is var at and >= 0 && !TryParseEffort(target[(at + 1)..], out _)
            ? $"names an unknown effort '{target[(at + 1)..]}' (after '@': low, medium, high, xhigh or max)."
            : $"is neither a tier ({string.Join(", ", priceBook.Tiers.Keys)}) nor a model in the price book {priceBook.SourceName} (optionally with an effort, e.g. opus@low).";

    /// <summary>How a target reads in a reason: <c>haiku (claude-haiku-4-5)</c> for a tier, the id for a model.</summary>
    public static string DescribeTarget(string target, string model) =>
        string.Equals(target, model, StringComparison.Ordinal) ? model : $"{target} ({model})";

    /// <summary>A token count as people write it: 8K, 20K, 1,234.</summary>
    public static string Tokens(long count) =>
        count >= 1000 && count % 1000 == 0 ? $"{count / 1000}K" : count.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    private static void CheckRange<T>(string label, string key, T? min, T? max, List<string> errors)
        where T : struct, IComparable<T>
    {
        var zero = default(T);
        if (min is { } lo && lo.CompareTo(zero) < 0)
        {
            errors.Add($"{label}: 'Min{key}' {lo} must not be negative.");
        }

        if (max is { } hi && hi.CompareTo(zero) < 0)
        {
            errors.Add($"{label}: 'Max{key}' {hi} must not be negative.");
        }

        if (min is { } a && max is { } b && a.CompareTo(b) > 0)
        {
            errors.Add($"{label}: 'Min{key}' {a} is greater than 'Max{key}' {b}.");
        }
    }

    private static void CheckList(string label, string key, IList<string>? values, List<string> errors)
    {
        if (values is null)
        {
            return;
        }

        for (var i = 0; i < values.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(values[i]))
            {
                errors.Add($"{label}: '{key}:{i}' is empty.");
            }
        }
    }
}
