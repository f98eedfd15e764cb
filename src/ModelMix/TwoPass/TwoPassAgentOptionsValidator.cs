using Microsoft.Extensions.Options;
using ModelMix.Hosting;

namespace ModelMix.Pipeline;

/// <summary>Checks <see cref="TwoPassAgentOptions"/>: models and instruction set, caps and triggers positive (registered by <c>AddModelMix</c>; <see cref="TwoPassAgent"/> checks the options it is given).</summary>
internal sealed class TwoPassAgentOptionsValidator : IValidateOptions<TwoPassAgentOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, TwoPassAgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = OptionsCheck<TwoPassAgentOptions>.Throwing(nameof(TwoPassAgentOptions), () => ThrowIfInvalid(options)).ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>Throws when an option is out of range, naming it: for options built in code (the stage or core's constructor).</summary>
    internal static void ThrowIfInvalid(TwoPassAgentOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(options.CheapModel, nameof(TwoPassAgentOptions.CheapModel));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.StrongModel, nameof(TwoPassAgentOptions.StrongModel));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.SynthesisInstruction, nameof(TwoPassAgentOptions.SynthesisInstruction));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxSteps, 1, nameof(TwoPassAgentOptions.MaxSteps));
        if (options.SynthesisMinToolCalls is { } calls)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(calls, 1, nameof(TwoPassAgentOptions.SynthesisMinToolCalls));
        }

        if (options.SynthesisMinResultTokens is { } tokens)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1, nameof(TwoPassAgentOptions.SynthesisMinResultTokens));
        }

        if (options.SynthesisMinResultRows is { } rows)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1, nameof(TwoPassAgentOptions.SynthesisMinResultRows));
        }
    }
}
