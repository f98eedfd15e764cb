namespace ModelMix.Routing;

/// <summary>
/// A routing configuration is invalid: an unknown model or tier, a minimum above its maximum, a duplicate rule name,
/// an unknown key. The message lists every problem, each naming the rule (or pin) and the key.
/// </summary>
public sealed class RoutingConfigurationException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public RoutingConfigurationException()
        : this("Invalid routing configuration.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">What is wrong and where.</param>
    public RoutingConfigurationException(string message)
        : base(message)
    {
        Errors = [message];
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">What is wrong and where.</param>
    /// <param name="innerException">The underlying failure (e.g. a JSON syntax error).</param>
    public RoutingConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [message];
    }

    /// <summary>Creates an exception listing several problems found in one source.</summary>
    /// <param name="source">Where the configuration came from (a file, a configuration section path).</param>
    /// <param name="errors">Each problem, naming the rule or pin and the key.</param>
    public RoutingConfigurationException(string source, IReadOnlyList<string> errors)
        : base(Format(source, errors))
    {
        Errors = errors;
    }

    /// <summary>Each problem found, naming the rule or pin and the key.</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string Format(string source, IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        return errors.Count == 1
            ? $"Invalid routing configuration ({source}): {errors[0]}"
            : $"Invalid routing configuration ({source}):{Environment.NewLine} - {string.Join(Environment.NewLine + " - ", errors)}";
    }
}
