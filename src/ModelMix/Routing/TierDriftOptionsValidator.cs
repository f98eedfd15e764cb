using Microsoft.Extensions.Options;
using ModelMix.Hosting;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>Checks <see cref="TierDriftOptions"/> (<c>ModelMix:TierDrift</c>) at start: bounds in range and tiers of the price book, named under the section; both doors register it.</summary>
internal sealed class TierDriftOptionsValidator(PriceBook prices) : IValidateOptions<TierDriftOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TierDriftOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = ModelMixOptionsChecks.TierDrift(options, prices).ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>Throws when an option is out of range, naming it: for options built in code (the stage or core's constructor).</summary>
#pragma warning disable CA2208 // the exception names the option, not the parameter, as it did when this was the options' Validate()
    internal static void ThrowIfInvalid(TierDriftOptions options)
    {
        foreach (var (tier, bound) in options.MaxShare)
        {
            if (double.IsNaN(bound) || bound <= 0 || bound > 1)
            {
                throw new ArgumentOutOfRangeException(nameof(TierDriftOptions.MaxShare), bound, $"{nameof(TierDriftOptions.MaxShare)}[{tier}] must be a share above 0 and at most 1, e.g. 0.2 for 20%.");
            }
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.WindowCalls, 1, nameof(TierDriftOptions.WindowCalls));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MinCalls, 1, nameof(TierDriftOptions.MinCalls));
        if (options.WindowDuration is { } duration)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(duration, TimeSpan.Zero, nameof(TierDriftOptions.WindowDuration));
        }

        if (double.IsNaN(options.Hysteresis) || options.Hysteresis < 0 || options.Hysteresis >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(TierDriftOptions.Hysteresis), options.Hysteresis, $"{nameof(TierDriftOptions.Hysteresis)} must be at least 0 and below 1.");
        }
    }
#pragma warning restore CA2208
}
