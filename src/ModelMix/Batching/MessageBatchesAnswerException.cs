namespace ModelMix.Batching;

/// <summary>
/// The Message Batches API answered with success, but with something the batcher cannot use: a body that is not a
/// JSON object, a field it needs missing, a value it does not know (<c>processing_status</c>), a batch id another
/// submission already holds. Unlike a transient error (HTTP 5xx, no answer) it counts as a fault of the jobs concerned.
/// </summary>
public sealed class MessageBatchesAnswerException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MessageBatchesAnswerException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public MessageBatchesAnswerException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public MessageBatchesAnswerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
