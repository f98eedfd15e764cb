namespace ModelMix.Audit;

/// <summary>
/// Escalations (an attempt sent to a bigger model after a cheaper one), retries and routing calls, and what they cost.
/// </summary>
/// <param name="Requests">Requests (records with attempt 1).</param>
/// <param name="EscalatedRequests">Requests with at least one escalation attempt.</param>
/// <param name="Rate">Escalated requests ÷ requests (0–1).</param>
/// <param name="Escalations">Escalation attempts.</param>
/// <param name="EscalationCostUsd">What the escalation attempts cost.</param>
/// <param name="Retries">Attempts after the first that were not escalations (same model again).</param>
/// <param name="RetryCostUsd">What the retries cost.</param>
/// <param name="RoutingCalls">Calls made to route a request (attempt 0: the meta-router's classification).</param>
/// <param name="RoutingCallCostUsd">What the routing calls cost (included in the total, excluded from the single-model counterfactuals).</param>
internal sealed record AuditEscalationStats(long Requests, long EscalatedRequests, decimal Rate, long Escalations, decimal EscalationCostUsd, long Retries, decimal RetryCostUsd, long RoutingCalls, decimal RoutingCallCostUsd);
