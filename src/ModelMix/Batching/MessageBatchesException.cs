namespace ModelMix.Batching;

/// <summary>The Message Batches API answered with an error status (so the call surely had no effect upstream when it is a create).</summary>
public sealed class MessageBatchesException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MessageBatchesException(int status, string message)
        : base(message)
    {
        Status = status;
    }

    /// <summary>Creates the exception.</summary>
    public MessageBatchesException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public MessageBatchesException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public MessageBatchesException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The HTTP status of the answer.</summary>
    public int Status { get; }
}
