namespace ModelMix.Audit;

/// <summary>Something in the ledger worth a person's attention.</summary>
/// <param name="Kind">What it is about.</param>
/// <param name="Subject">The tier, task label or session id.</param>
/// <param name="Message">One sentence saying what was seen and against which bound.</param>
internal sealed record AuditFlag(AuditFlagKind Kind, string Subject, string Message);
