using Microsoft.Extensions.Options;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Hosting;

/// <summary>Validates options of type <typeparamref name="T"/> with a function that names every problem (empty when none).</summary>
internal sealed class OptionsCheck<T>(Func<T, IEnumerable<string>> problems) : IValidateOptions<T>
    where T : class
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var errors = problems(options).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Runs a <c>Validate()</c> that throws, as a list of problems prefixed with the section.</summary>
    public static IEnumerable<string> Throwing(string section, Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException exception)
        {
            return [exception.ParamName is { Length: > 0 } key ? $"{section}:{key}: {exception.Message}" : $"{section}: {exception.Message}"];
        }

        return [];
    }
}

/// <summary>Checks the <c>ModelMix</c> section: the price book file loads and the store setting parses.</summary>
internal static class ModelMixOptionsChecks
{
    public static IEnumerable<string> Problems(ModelMixOptions options)
    {
        if (options.Prices is { Length: > 0 } prices)
        {
            string? problem = null;
            try
            {
                _ = PriceBook.Load(prices);
            }
            catch (Exception exception) when (exception is PricingException or IOException or UnauthorizedAccessException)
            {
                problem = $"{ModelMixOptions.SectionName}:Prices: {exception.Message}";
            }

            if (problem is not null)
            {
                yield return problem;
            }
        }

        if (string.IsNullOrWhiteSpace(options.StoreSetting))
        {
            yield return $"{ModelMixOptions.SectionName}:Store (or Db) must name a SQLite file or a PostgreSQL database.";
        }
        else
        {
            string? problem = null;
            try
            {
                _ = Stores.StoreLocation.Parse(options.StoreSetting);
            }
            catch (FormatException exception)
            {
                problem = $"{ModelMixOptions.SectionName}:Store: {exception.Message}";
            }

            if (problem is not null)
            {
                yield return problem;
            }
        }

        if (options.LedgerFlushInterval is { } interval && (interval <= TimeSpan.Zero || interval > TimeSpan.FromHours(1)))
        {
            yield return $"{ModelMixOptions.SectionName}:LedgerFlushInterval must be more than zero and at most one hour (was {interval}).";
        }
    }

    /// <summary>The fallback chain's entries and the long-context model resolve, and the delays and counts are in range.</summary>
    public static IEnumerable<string> Fallback(FallbackOptions options, PriceBook prices)
    {
        var book = options.PriceBook ?? prices;
        FallbackChain.Create(options.Chain, options.LongContextModel, book, null, FallbackOptions.SectionName, out var chainProblems);
        foreach (var problem in chainProblems)
        {
            yield return problem;
        }

        if (options.MaxRetriesPerModel < 0)
        {
            yield return $"{FallbackOptions.SectionName}:MaxRetriesPerModel must not be negative (was {options.MaxRetriesPerModel}).";
        }

        if (options.BaseDelay < TimeSpan.Zero || options.MaxDelay < options.BaseDelay)
        {
            yield return $"{FallbackOptions.SectionName}:BaseDelay must not be negative and MaxDelay not below it (were {options.BaseDelay} and {options.MaxDelay}).";
        }

        if (options.MaxRetryAfter < TimeSpan.Zero)
        {
            yield return $"{FallbackOptions.SectionName}:MaxRetryAfter must not be negative (was {options.MaxRetryAfter}).";
        }
    }

    /// <summary>The loop guard's limits are in range (<see cref="LoopGuardOptionsValidator"/>), named under <c>ModelMix:LoopGuard</c>, and by the old key a value came from.</summary>
    public static IEnumerable<string> LoopGuard(LoopGuardOptions options)
    {
        foreach (var problem in OptionsCheck<LoopGuardOptions>.Throwing(ModelMixSections.LoopGuard, () => LoopGuardOptionsValidator.ThrowIfInvalid(options)))
        {
            yield return options.ObsoleteKeys.Count == 0 ? problem : $"{problem} (set by the old key {string.Join(", ", options.ObsoleteKeys)})";
        }
    }

    /// <summary>The tier-drift bounds are in range (<see cref="TierDriftOptionsValidator"/>) and name tiers of the price book, under <c>ModelMix:TierDrift</c>.</summary>
    public static IEnumerable<string> TierDrift(TierDriftOptions options, PriceBook prices)
    {
        var book = options.Prices ?? prices;
        foreach (var tier in options.MaxShare.Keys)
        {
            if (!book.Tiers.Keys.Any(known => string.Equals(known, tier, StringComparison.OrdinalIgnoreCase)))
            {
                yield return $"{ModelMixSections.TierDrift}:MaxShare:{tier}: '{tier}' is not a tier of the price book (tiers: {string.Join(", ", book.Tiers.Keys)}).";
            }
        }

        foreach (var problem in OptionsCheck<TierDriftOptions>.Throwing(ModelMixSections.TierDrift, () => TierDriftOptionsValidator.ThrowIfInvalid(options)))
        {
            yield return problem;
        }
    }

    /// <summary>The cascade's problems, named under <c>ModelMix:Cascade</c>.</summary>
    public static IEnumerable<string> Cascade(CascadeOptions options, PriceBook prices) =>
        CascadeOptionsValidator.Check(options, options.PriceBook ?? prices)
            .Select(problem => problem.StartsWith("Cascade:", StringComparison.Ordinal) ? "ModelMix:" + problem : problem);
}
