namespace ModelMix.Pipeline;

/// <summary>
/// The caller canceled while <see cref="BatchingChatClient"/> waited for a batched call: the call stays queued (it is
/// still submitted, answered and recorded in the ledger). Pass <see cref="ContinuationToken"/> as
/// <c>ChatOptions.ContinuationToken</c> to collect the answer later.
/// </summary>
public sealed class BatchWaitCanceledException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    public BatchWaitCanceledException()
        : base("Waiting for a batched call was canceled; the call stays queued.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public BatchWaitCanceledException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public BatchWaitCanceledException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for the call of <paramref name="token"/>.</summary>
    /// <param name="token">The token to resume with.</param>
    /// <param name="innerException">The cancellation.</param>
    /// <param name="cancellationToken">The caller's token that fired.</param>
    public BatchWaitCanceledException(BatchContinuationToken token, Exception? innerException, CancellationToken cancellationToken)
        : base(
            $"Waiting for the batched call {token?.JobId} was canceled; the call stays queued and is answered later. Resume with ChatOptions.ContinuationToken = this exception's ContinuationToken.",
            innerException,
            cancellationToken)
    {
        ContinuationToken = token;
    }

    /// <summary>The token that collects the call's answer later, or null when not built for one call.</summary>
    public BatchContinuationToken? ContinuationToken { get; }
}
