using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Configuration;
using ModelMix.Pricing;
using ModelMix.Serialization;

namespace ModelMix.Routing;

/// <summary>
/// Loads <see cref="RoutingOptions"/> from an <see cref="IConfiguration"/> section (<c>ModelMix:Routing</c> in
/// appsettings.json) or a JSON rules file of the same shape, and builds the static chain pin → rules → default.
/// Unknown keys and invalid values fail at load with errors naming the rule and the key.
/// </summary>
public static class RoutingConfiguration
{
    private static readonly HashSet<string> s_optionKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        nameof(RoutingOptions.Pins), nameof(RoutingOptions.Rules), nameof(RoutingOptions.Default),
    };

    private static readonly HashSet<string> s_ruleKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        nameof(RoutingRuleOptions.Name), nameof(RoutingRuleOptions.Description), nameof(RoutingRuleOptions.TaskLabels),
        nameof(RoutingRuleOptions.Keywords), nameof(RoutingRuleOptions.MinInputTokens), nameof(RoutingRuleOptions.MaxInputTokens),
        nameof(RoutingRuleOptions.MinTools), nameof(RoutingRuleOptions.MaxTools), nameof(RoutingRuleOptions.HasImages),
        nameof(RoutingRuleOptions.StructuredOutput), nameof(RoutingRuleOptions.MinMaxTokens), nameof(RoutingRuleOptions.MaxMaxTokens),
        nameof(RoutingRuleOptions.MinDepth), nameof(RoutingRuleOptions.MaxDepth), nameof(RoutingRuleOptions.Target),
        nameof(RoutingRuleOptions.Confidence), nameof(RoutingRuleOptions.Batch),
    };

    /// <summary>
    /// Binds a configuration section (e.g. <c>configuration.GetSection(RoutingOptions.SectionName)</c>); an absent
    /// section gives the defaults (no pins, the default rules, Sonnet).
    /// </summary>
    /// <param name="section">The routing section.</param>
    /// <exception cref="RoutingConfigurationException">An unknown key, or a value of the wrong type; the message names the key path.</exception>
    public static RoutingOptions Bind(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var path = section is IConfigurationSection s ? s.Path : "configuration";
        var errors = new List<string>();
        foreach (var child in section.GetChildren())
        {
            if (!s_optionKeys.Contains(child.Key))
            {
                errors.Add($"'{child.Path}' is not a routing key (expected {string.Join(", ", s_optionKeys)}).");
            }
        }

        var rules = section.GetSection(nameof(RoutingOptions.Rules)).GetChildren().ToList();
        foreach (var rule in rules)
        {
            var name = rule[nameof(RoutingRuleOptions.Name)];
            foreach (var key in rule.GetChildren())
            {
                if (!s_ruleKeys.Contains(key.Key))
                {
                    errors.Add($"rule '{name}' ({key.Path}): '{key.Key}' is not a rule key (expected one of {string.Join(", ", s_ruleKeys)}).");
                }
                else if (key.Value is { } value && !HasValidType(key.Key, value, out var expected))
                {
                    // The binder silently drops a list element it cannot convert, so check types before binding.
                    errors.Add($"rule '{name}' ({key.Path}): '{value}' is not {expected}.");
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new RoutingConfigurationException(path, errors);
        }

        RoutingOptions options;
        try
        {
            options = section.Get<RoutingOptions>() ?? new RoutingOptions();
        }
        catch (InvalidOperationException ex)
        {
            throw new RoutingConfigurationException($"Invalid routing configuration ({path}): {ex.Message}", ex);
        }

        if ((options.Rules?.Count ?? 0) != rules.Count)
        {
            throw new RoutingConfigurationException(
                $"Invalid routing configuration ({path}): {rules.Count} rules configured but {options.Rules?.Count ?? 0} could be bound.");
        }

        return options;
    }

    private static bool HasValidType(string key, string value, out string expected)
    {
        var k = key.ToUpperInvariant();
        switch (k)
        {
            case "MININPUTTOKENS" or "MAXINPUTTOKENS" or "MINMAXTOKENS" or "MAXMAXTOKENS":
                expected = "a whole number of tokens";
                return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
            case "MINTOOLS" or "MAXTOOLS" or "MINDEPTH" or "MAXDEPTH":
                expected = "a whole number";
                return int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _);
            case "HASIMAGES" or "STRUCTUREDOUTPUT":
                expected = "true or false";
                return bool.TryParse(value, out _);
            case "CONFIDENCE":
                expected = "a number between 0 and 1";
                return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _);
            default:
                expected = string.Empty;
                return true;
        }
    }

    /// <summary>Parses routing options from JSON text of the same shape as the configuration section.</summary>
    /// <param name="json">The JSON: <c>{ "pins": {…}, "rules": [ … ], "default": "sonnet" }</c>.</param>
    /// <param name="sourceName">Where it came from, used in error messages.</param>
    /// <exception cref="RoutingConfigurationException">Malformed JSON, an unknown key, or a value of the wrong type; the message names the JSON path.</exception>
    public static RoutingOptions ParseJson(string json, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentException.ThrowIfNullOrEmpty(sourceName);
        try
        {
            return JsonSerializer.Deserialize(json, RoutingJsonContext.Default.RoutingOptions)
                ?? throw new RoutingConfigurationException($"Invalid routing configuration ({sourceName}): the document is null.");
        }
        catch (JsonException ex)
        {
            throw new RoutingConfigurationException($"Invalid routing configuration ({sourceName}): {ex.Path ?? "$"}: {ex.Message}", ex);
        }
    }

    /// <summary>Reads routing options from a JSON file (see <see cref="ParseJson"/>).</summary>
    /// <param name="path">The file; named in error messages.</param>
    /// <exception cref="RoutingConfigurationException">The file cannot be read or is invalid.</exception>
    public static RoutingOptions LoadJson(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RoutingConfigurationException($"Cannot read routing configuration {path}: {ex.Message}", ex);
        }

        return ParseJson(json, path);
    }

    /// <summary>
    /// Validates the options (all errors at once) and builds the static chain: <see cref="PinnedPolicy"/> (when any
    /// pin is set) → <see cref="RulesPolicy"/> (<see cref="DefaultRules"/> when <see cref="RoutingOptions.Rules"/> is
    /// null) → <see cref="DefaultPolicy"/>.
    /// </summary>
    /// <param name="options">The routing options.</param>
    /// <param name="priceBook">Resolves tiers and models.</param>
    /// <param name="source">Where the options came from, for error messages.</param>
    /// <exception cref="RoutingConfigurationException">The options are invalid.</exception>
    public static CompositePolicy CreatePolicy(RoutingOptions options, PriceBook priceBook, string source = RoutingOptions.SectionName)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(priceBook);
        var errors = RoutingValidation.Check(options, priceBook);
        if (errors.Count > 0)
        {
            throw new RoutingConfigurationException(source, errors);
        }

        var policies = new List<IRoutingPolicy>(3);
        if (options.Pins is { Count: > 0 } pins)
        {
            policies.Add(new PinnedPolicy(pins, priceBook));
        }

        policies.Add(RulesPolicy.Create(options.Rules ?? DefaultRules.CreateOptions(), priceBook, RulesPolicy.DefaultName, source));
        policies.Add(new DefaultPolicy(options.Default, priceBook));
        return new CompositePolicy(policies);
    }

    /// <summary>Binds <paramref name="section"/> and builds the chain (see <see cref="CreatePolicy(RoutingOptions, PriceBook, string)"/>).</summary>
    /// <param name="section">The routing section, e.g. <c>ModelMix:Routing</c>.</param>
    /// <param name="priceBook">Resolves tiers and models.</param>
    /// <exception cref="RoutingConfigurationException">The configuration is invalid.</exception>
    public static CompositePolicy CreatePolicy(IConfiguration section, PriceBook priceBook)
    {
        ArgumentNullException.ThrowIfNull(section);
        return CreatePolicy(Bind(section), priceBook, section is IConfigurationSection s ? s.Path : "configuration");
    }
}
