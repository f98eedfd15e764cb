using Microsoft.Extensions.Options;
using ModelMix.Pricing;

namespace ModelMix.Routing;

/// <summary>
/// Validates <see cref="RoutingOptions"/> at start-up so a bad configuration fails fast: every error names the rule
/// or pin and the key (unknown tier or model, min above max, duplicate rule names, a catch-all before the last rule).
/// </summary>
internal sealed class RoutingOptionsValidator : IValidateOptions<RoutingOptions>
{
    private readonly PriceBook _priceBook;

    /// <summary>Creates a validator that resolves targets through <paramref name="priceBook"/>.</summary>
    /// <param name="priceBook">The price book the router will use.</param>
    public RoutingOptionsValidator(PriceBook priceBook)
    {
        ArgumentNullException.ThrowIfNull(priceBook);
        _priceBook = priceBook;
    }

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, RoutingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = RoutingValidation.Check(options, _priceBook);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
