using Microsoft.Extensions.Options;
using ModelMix.Hosting;

namespace ModelMix.Pipeline;

/// <summary>Checks <see cref="LoopGuardOptions"/> (<c>ModelMix:LoopGuard</c>) at start, each problem named under the section (and the old key it came from); both doors register it.</summary>
internal sealed class LoopGuardOptionsValidator : IValidateOptions<LoopGuardOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, LoopGuardOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = ModelMixOptionsChecks.LoopGuard(options).ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>Throws when an option is out of range, naming it: for options built in code (the stage or core's constructor).</summary>
    internal static void ThrowIfInvalid(LoopGuardOptions options)
    {
        if (options.MaxStepsPerSession is { } steps)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1, nameof(LoopGuardOptions.MaxStepsPerSession));
        }

        if (options.MaxSpendPerSession is { } spend)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(spend, nameof(LoopGuardOptions.MaxSpendPerSession));
        }

        if (options.MaxSpendPerWindow is { } velocity)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(velocity, nameof(LoopGuardOptions.MaxSpendPerWindow));
        }

        if (options.MaxRepeatedToolCalls is { } repeats)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1, nameof(LoopGuardOptions.MaxRepeatedToolCalls));
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.SpendWindow, TimeSpan.Zero, nameof(LoopGuardOptions.SpendWindow));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.SessionIdleTimeout, TimeSpan.Zero, nameof(LoopGuardOptions.SessionIdleTimeout));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.AnonymousSessionId, nameof(LoopGuardOptions.AnonymousSessionId));
    }
}
