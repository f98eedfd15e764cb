using System.Globalization;

namespace ModelMix.Pipeline;

/// <summary>
/// Thrown by the loop guard (<see cref="LoopGuardChatClient"/>) when a session hits one of its limits: the agent loop is
/// stopped instead of spending more. Says which limit, which session, and what was observed against the limit.
/// </summary>
public sealed class LoopGuardException : Exception
{
    /// <summary>Creates the exception for a session that hit <paramref name="limit"/>.</summary>
    /// <param name="limit">The limit that was hit.</param>
    /// <param name="sessionId">The session that hit it.</param>
    /// <param name="observed">What was observed: the step number, the spend in USD, or the number of identical calls.</param>
    /// <param name="limitValue">The configured limit, in the same unit as <paramref name="observed"/>.</param>
    /// <param name="functionName">For <see cref="LoopGuardLimit.RepeatedToolCall"/>: the function called repeatedly.</param>
    public LoopGuardException(LoopGuardLimit limit, string sessionId, decimal observed, decimal limitValue, string? functionName = null)
        : base(Describe(limit, sessionId, observed, limitValue, functionName))
    {
        Limit = limit;
        SessionId = sessionId;
        Observed = observed;
        LimitValue = limitValue;
        FunctionName = functionName;
    }

    /// <summary>Creates the exception with a message only (for serializers and tests).</summary>
    public LoopGuardException()
        : this("The loop guard stopped the session.")
    {
    }

    /// <summary>Creates the exception with a message only.</summary>
    /// <param name="message">The message.</param>
    public LoopGuardException(string message)
        : base(message)
    {
        SessionId = string.Empty;
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public LoopGuardException(string message, Exception innerException)
        : base(message, innerException)
    {
        SessionId = string.Empty;
    }

    /// <summary>The limit that was hit.</summary>
    public LoopGuardLimit Limit { get; }

    /// <summary>The session that hit it.</summary>
    public string SessionId { get; }

    /// <summary>What was observed: the step number attempted, the spend in USD, or the number of identical calls.</summary>
    public decimal Observed { get; }

    /// <summary>The configured limit, in the unit of <see cref="Observed"/>.</summary>
    public decimal LimitValue { get; }

    /// <summary>For <see cref="LoopGuardLimit.RepeatedToolCall"/>: the function the model kept calling with the same arguments.</summary>
    public string? FunctionName { get; }

    private static string Describe(LoopGuardLimit limit, string sessionId, decimal observed, decimal limitValue, string? functionName)
    {
        var inv = CultureInfo.InvariantCulture;
        return limit switch
        {
            LoopGuardLimit.Steps => string.Format(inv, "Loop guard: session '{0}' stopped at step {1:0}: the limit is {2:0} model calls per session.", sessionId, observed, limitValue),
            LoopGuardLimit.Spend => string.Format(inv, "Loop guard: session '{0}' stopped: it has spent ${1:0.######}, the limit is ${2:0.######} per session.", sessionId, observed, limitValue),
            LoopGuardLimit.SpendVelocity => string.Format(inv, "Loop guard: session '{0}' stopped: it spent ${1:0.######} within the spend window, the limit is ${2:0.######}.", sessionId, observed, limitValue),
            LoopGuardLimit.RepeatedToolCall => string.Format(inv, "Loop guard: session '{0}' stopped: the model asked for {1} with the same arguments {2:0} times, the limit is {3:0}.", sessionId, functionName ?? "a function", observed, limitValue),
            _ => string.Format(inv, "Loop guard: session '{0}' stopped: {1} {2} ≥ {3}.", sessionId, limit, observed, limitValue),
        };
    }
}
