namespace ModelMix.Audit;

/// <summary>Escalations (an attempt sent to a bigger model after a cheaper one) and retries, and what they cost.</summary>
/// <param name="Requests">Requests (records with attempt 1).</param>
/// <param name="EscalatedRequests">Requests with at least one escalation attempt.</param>
/// <param name="Rate">Escalated requests ÷ requests (0–1).</param>
/// <param name="Escalations">Escalation attempts.</param>
/// <param name="EscalationCostUsd">What the escalation attempts cost.</param>
/// <param name="Retries">Attempts after the first that were not escalations (same model again).</param>
/// <param name="RetryCostUsd">What the retries cost.</param>
public sealed record AuditEscalationStats(long Requests, long EscalatedRequests, decimal Rate, long Escalations, decimal EscalationCostUsd, long Retries, decimal RetryCostUsd);
