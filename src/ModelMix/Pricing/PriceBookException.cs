namespace ModelMix.Pricing;

/// <summary>
/// A price book file is invalid (bad JSON, a missing or negative field, overlapping periods, a duplicate id). The
/// message names the file and the JSON path of the offending key.
/// </summary>
public sealed class PriceBookException : PricingException
{
    /// <summary>Creates an exception with a default message.</summary>
    public PriceBookException()
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">The file, the JSON path and what is wrong there.</param>
    public PriceBookException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">The file, the JSON path and what is wrong there.</param>
    /// <param name="innerException">The underlying failure (e.g. a JSON syntax error).</param>
    public PriceBookException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The price book the error was found in (a file path or a source name); null when unknown.</summary>
    public string? SourceName { get; init; }

    /// <summary>The JSON path of the offending value, e.g. <c>$.models[3].periods[0].input</c>; null when unknown.</summary>
    public string? JsonPath { get; init; }

    internal static PriceBookException At(string sourceName, string jsonPath, string problem, Exception? inner = null)
    {
        var message = $"Invalid price book {sourceName}: {jsonPath}: {problem}";
        return inner is null
            ? new PriceBookException(message) { SourceName = sourceName, JsonPath = jsonPath }
            : new PriceBookException(message, inner) { SourceName = sourceName, JsonPath = jsonPath };
    }
}
