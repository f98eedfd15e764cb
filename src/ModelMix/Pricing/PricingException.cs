namespace ModelMix.Pricing;

/// <summary>
/// The base of every pricing failure: a call that cannot be priced exactly is an error, never a silent $0 or a
/// silent standard price.
/// </summary>
public class PricingException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public PricingException()
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">What could not be priced and how to fix it.</param>
    public PricingException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">What could not be priced and how to fix it.</param>
    /// <param name="innerException">The underlying failure.</param>
    public PricingException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
