namespace ModelMix.Pricing;

/// <summary>
/// A model (or alias) is not in the price book, or has no price period in force at the time of the call. Never
/// priced as $0: the message names the model and the price book file to add it to.
/// </summary>
public sealed class UnknownModelException : PricingException
{
    /// <summary>Creates an exception with a default message.</summary>
    public UnknownModelException()
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">The model and the file to add it to.</param>
    public UnknownModelException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">The model and the file to add it to.</param>
    /// <param name="innerException">The underlying failure.</param>
    public UnknownModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The model id or alias as the caller gave it.</summary>
    public string? Model { get; init; }

    /// <summary>The price book that lacks it (what to tell the user to edit).</summary>
    public string? SourceName { get; init; }
}
