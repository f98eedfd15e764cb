namespace ModelMix.Keys;

/// <summary>A key operation that cannot be done as asked (duplicate name, unknown key, bad name).</summary>
public sealed class ApiKeyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ApiKeyException()
    {
    }

    /// <summary>Creates the exception with a message that says what to do.</summary>
    public ApiKeyException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public ApiKeyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
