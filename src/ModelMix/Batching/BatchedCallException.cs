namespace ModelMix.Pipeline;

/// <summary>
/// A batched call ended without an answer: the API answered it with an error (<c>errored</c>), the Message Batch was
/// canceled before it was processed (<c>canceled</c>), or the batch hit the API's 24-hour limit first (<c>expired</c>).
/// The ledger records it as an error with cost 0; the job stays in the queue with its result.
/// </summary>
public sealed class BatchedCallException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BatchedCallException()
        : this("A batched call ended without an answer.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public BatchedCallException(string message)
        : base(message)
    {
        JobId = string.Empty;
        Outcome = string.Empty;
    }

    /// <summary>Creates the exception with a message and inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public BatchedCallException(string message, Exception innerException)
        : base(message, innerException)
    {
        JobId = string.Empty;
        Outcome = string.Empty;
    }

    /// <summary>Creates the exception for one ended call.</summary>
    /// <param name="jobId">The batch job of the call.</param>
    /// <param name="outcome"><c>errored</c>, <c>canceled</c> or <c>expired</c>.</param>
    /// <param name="errorType">The API's error type of an errored call (e.g. <c>invalid_request_error</c>).</param>
    /// <param name="errorMessage">The API's error message of an errored call.</param>
    public BatchedCallException(string jobId, string outcome, string? errorType, string? errorMessage)
        : base(Describe(jobId, outcome, errorType, errorMessage))
    {
        JobId = jobId;
        Outcome = outcome;
        ErrorType = errorType;
    }

    /// <summary>The batch job of the call.</summary>
    public string JobId { get; }

    /// <summary>How the call ended: <c>errored</c>, <c>canceled</c> or <c>expired</c>.</summary>
    public string Outcome { get; }

    /// <summary>The API's error type of an errored call, else null.</summary>
    public string? ErrorType { get; }

    private static string Describe(string jobId, string outcome, string? errorType, string? errorMessage) => outcome switch
    {
        "errored" => $"The batched call {jobId} ended errored: the API answered {errorType ?? "an error"}{(errorMessage is null ? "" : ": " + errorMessage)}.",
        "canceled" => $"The batched call {jobId} ended canceled: its Message Batch was canceled before the call was processed.",
        "expired" => $"The batched call {jobId} ended expired: its Message Batch hit the API's 24-hour limit before the call was processed.",
        _ => $"The batched call {jobId} ended {outcome} without an answer.",
    };
}
