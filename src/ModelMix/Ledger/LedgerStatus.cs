namespace ModelMix.Ledger;

/// <summary>The outcome of one attempt.</summary>
public enum LedgerStatus
{
    /// <summary>The upstream answered successfully and the usage was priced.</summary>
    Ok = 0,

    /// <summary>The upstream answered with an error status or an error event.</summary>
    Error = 1,

    /// <summary>The call never got an answer (connection refused, timeout, client gone).</summary>
    Failed = 2,

    /// <summary>The upstream answered successfully but the model had no price: the cost is unknown, not zero.</summary>
    Unpriced = 3,

    /// <summary>
    /// The attempt was sent (its intent was journaled before dispatch) but the process that sent it died before its
    /// outcome was recorded: reconciliation charged it at its worst case with estimated usage (docs/ledger.md,
    /// "Crash consistency").
    /// </summary>
    OutcomeUnknown = 4,
}
