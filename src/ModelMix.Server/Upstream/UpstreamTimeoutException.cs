namespace ModelMix.Server;

/// <summary>The upstream did not answer within <see cref="ProxyOptions.UpstreamTimeout"/>.</summary>
internal sealed class UpstreamTimeoutException : Exception
{
    /// <summary>Creates the exception.</summary>
    public UpstreamTimeoutException()
        : base("The upstream did not answer in time.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public UpstreamTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public UpstreamTimeoutException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
