namespace FakeAnthropic;

/// <summary>
/// How the fake's Message Batches API answers one request of a batch (one line of the results JSONL):
/// <c>succeeded</c> with a message and its usage, <c>errored</c> with an error body, <c>canceled</c> or <c>expired</c>.
/// </summary>
public sealed record FakeBatchOutcome
{
    private FakeBatchOutcome(string type)
    {
        Type = type;
    }

    /// <summary>The result type on the wire: <c>succeeded</c>, <c>errored</c>, <c>canceled</c> or <c>expired</c>.</summary>
    public string Type { get; }

    /// <summary>Usage of a succeeded answer; null keeps the fixture's (52 input / 31 output, <c>service_tier: batch</c>).</summary>
    public FakeUsage? Usage { get; private init; }

    /// <summary>The error type of an errored result (e.g. <c>invalid_request_error</c>).</summary>
    public string? ErrorType { get; private init; }

    /// <summary>The error message of an errored result.</summary>
    public string? ErrorMessage { get; private init; }

    /// <summary>A succeeded result (the fixture's answer, model and id rewritten) with the given usage.</summary>
    public static FakeBatchOutcome Succeeded(FakeUsage? usage = null) => new("succeeded") { Usage = usage };

    /// <summary>An errored result carrying a full error body.</summary>
    public static FakeBatchOutcome Errored(string errorType = "invalid_request_error", string message = "Invalid request") =>
        new("errored") { ErrorType = errorType, ErrorMessage = message };

    /// <summary>A canceled result (the batch was canceled before this request was processed).</summary>
    public static FakeBatchOutcome Canceled { get; } = new("canceled");

    /// <summary>An expired result (the batch hit its 24 h limit before this request was processed).</summary>
    public static FakeBatchOutcome Expired { get; } = new("expired");
}
