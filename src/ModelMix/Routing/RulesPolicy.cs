using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// Ordered rules over request features; the first rule that matches decides. Not decisive when no rule matches
/// (unless the last rule is a catch-all). Deterministic and allocation-free per decision.
/// </summary>
public sealed class RulesPolicy : ISynchronousRoutingPolicy
{
    /// <summary>The name a rules policy has unless given another.</summary>
    public const string DefaultName = "rules";

    private readonly RoutingRule[] _rules;

    /// <summary>Creates a policy over compiled rules, in order.</summary>
    /// <param name="rules">The rules; names must be unique and only the last may be a catch-all.</param>
    /// <param name="name">The policy name recorded in decisions.</param>
    /// <exception cref="RoutingConfigurationException">Duplicate names, or a catch-all before the last rule.</exception>
    public RulesPolicy(IEnumerable<RoutingRule> rules, string name = DefaultName)
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _rules = [.. rules];
        Name = name;
        var errors = new List<string>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < _rules.Length; i++)
        {
            ArgumentNullException.ThrowIfNull(_rules[i], nameof(rules));
            if (!seen.Add(_rules[i].Name))
            {
                errors.Add($"rule '{_rules[i].Name}' (Rules:{i}): 'Name' duplicates an earlier rule; rule names must be unique.");
            }

            if (_rules[i].IsCatchAll && i != _rules.Length - 1)
            {
                errors.Add($"rule '{_rules[i].Name}' (Rules:{i}): has no conditions, so it would shadow the rules after it; only the last rule may be a catch-all.");
            }
        }

        if (errors.Count > 0)
        {
            throw new RoutingConfigurationException(name, errors);
        }
    }

    /// <summary>The policy name recorded in decisions.</summary>
    public string Name { get; }

    /// <summary>The rules, in the order they are tried.</summary>
    public IReadOnlyList<RoutingRule> Rules => _rules;

    /// <summary>
    /// Validates and compiles configured rules, reporting every problem at once (each naming the rule and the key).
    /// </summary>
    /// <param name="rules">The rules as configured, in order.</param>
    /// <param name="priceBook">Resolves targets.</param>
    /// <param name="name">The policy name recorded in decisions.</param>
    /// <param name="source">Where the rules came from, for error messages.</param>
    /// <exception cref="RoutingConfigurationException">Any rule is invalid.</exception>
    public static RulesPolicy Create(IEnumerable<RoutingRuleOptions> rules, PriceBook priceBook, string name = DefaultName, string source = "rules")
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(priceBook);
        var list = rules as IList<RoutingRuleOptions> ?? [.. rules];
        var errors = new List<string>();
        RoutingValidation.CheckRules(list, priceBook, errors);
        if (errors.Count > 0)
        {
            throw new RoutingConfigurationException(source, errors);
        }

        return new RulesPolicy(list.Select(r => new RoutingRule(r, priceBook)), name);
    }

    /// <summary>The first rule that matches <paramref name="request"/>, or null.</summary>
    /// <param name="request">The request's routing features.</param>
    public RoutingRule? FirstMatch(in RoutingRequest request)
    {
        foreach (var rule in _rules)
        {
            if (rule.Matches(request))
            {
                return rule;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public bool TryDecide(in RoutingRequest request, out RoutingDecision decision)
    {
        foreach (var rule in _rules)
        {
            if (rule.Matches(request))
            {
                decision = new RoutingDecision(rule.Model, rule.ReasonFor(request), rule.Confidence, Name) { Batch = rule.Batch, Effort = rule.Effort };
                return true;
            }
        }

        decision = default;
        return false;
    }

    /// <inheritdoc />
    public ValueTask<RoutingDecision?> DecideAsync(RoutingRequest request, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new(TryDecide(request, out var decision) ? decision : null);
    }
}
