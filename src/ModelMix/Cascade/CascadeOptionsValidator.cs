using Microsoft.Extensions.Options;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>Validates <see cref="CascadeOptions"/> at start-up; every failure names its key (e.g. <c>Cascade:Threshold</c>).</summary>
internal sealed class CascadeOptionsValidator : IValidateOptions<CascadeOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, CascadeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = Check(options, options.PriceBook ?? PriceBook.Default);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Every problem with <paramref name="options"/>, each naming its key; empty when valid.</summary>
    internal static List<string> Check(CascadeOptions options, PriceBook priceBook)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.PolicyName))
        {
            errors.Add("Cascade:PolicyName is required.");
        }

        if (options.Tiers is not { Count: > 0 })
        {
            errors.Add("Cascade:Tiers needs at least one tier (e.g. haiku, sonnet, opus).");
        }
        else
        {
            for (var i = 0; i < options.Tiers.Count; i++)
            {
                var tier = options.Tiers[i];
                if (string.IsNullOrWhiteSpace(tier) || !RoutingValidation.TryResolve(priceBook, tier, out _))
                {
                    errors.Add($"Cascade:Tiers:{i} '{tier}' is neither a tier ({string.Join(", ", priceBook.Tiers.Keys)}) nor a model in the price book {priceBook.SourceName}.");
                }
            }
        }

        if (!IsProbability(options.Threshold))
        {
            errors.Add($"Cascade:Threshold {options.Threshold} must be between 0 and 1.");
        }

        if (options.TaskThresholds is { } perTask)
        {
            foreach (var (label, threshold) in perTask)
            {
                if (string.IsNullOrWhiteSpace(label))
                {
                    errors.Add("Cascade:TaskThresholds has an empty task label.");
                }
                else if (!IsProbability(threshold))
                {
                    errors.Add($"Cascade:TaskThresholds:{label} {threshold} must be between 0 and 1.");
                }
            }
        }

        if (options.MaxEscalations < 0)
        {
            errors.Add($"Cascade:MaxEscalations {options.MaxEscalations} must not be negative.");
        }

        if (!IsProbability(options.MissingConfidence))
        {
            errors.Add($"Cascade:MissingConfidence {options.MissingConfidence} must be between 0 and 1.");
        }

        if (!Enum.IsDefined(options.ConfidenceSource))
        {
            errors.Add($"Cascade:ConfidenceSource '{options.ConfidenceSource}' is not StructuredOutput or Verifier.");
        }

        if (string.IsNullOrWhiteSpace(options.ConfidenceInstruction))
        {
            errors.Add("Cascade:ConfidenceInstruction is required.");
        }

        if (string.IsNullOrWhiteSpace(options.VerifierPrompt))
        {
            errors.Add("Cascade:VerifierPrompt is required.");
        }

        if (options.VerifierModel is { } verifier && !RoutingValidation.TryResolve(priceBook, verifier, out _))
        {
            errors.Add($"Cascade:VerifierModel '{verifier}' is neither a tier nor a model in the price book {priceBook.SourceName}.");
        }

        if (options.VerifierMaxOutputTokens < 1)
        {
            errors.Add($"Cascade:VerifierMaxOutputTokens {options.VerifierMaxOutputTokens} must be at least 1.");
        }

        if (options.VerifierMaxChars < 1)
        {
            errors.Add($"Cascade:VerifierMaxChars {options.VerifierMaxChars} must be at least 1.");
        }

        return errors;
    }

    private static bool IsProbability(double value) => value >= 0 && value <= 1;
}
