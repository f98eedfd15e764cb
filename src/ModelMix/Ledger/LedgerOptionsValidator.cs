using Microsoft.Extensions.Options;

namespace ModelMix.Ledger;

/// <summary>Validates <see cref="LedgerOptions"/> at start-up so a bad configuration fails fast, naming the key.</summary>
internal sealed class LedgerOptionsValidator : IValidateOptions<LedgerOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, LedgerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = options.GetValidationFailures();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> naming every invalid option: for options built in code, not bound.</summary>
    internal static void ThrowIfInvalid(LedgerOptions options)
    {
        var failures = options.GetValidationFailures();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(LedgerOptions), failures);
        }
    }
}
