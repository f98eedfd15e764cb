namespace ModelMix.Batching;

/// <summary>An outcome to store for one item after its batch ended.</summary>
/// <param name="ItemId">The item (upstream custom_id).</param>
/// <param name="Status"><c>succeeded</c>, <c>errored</c>, <c>canceled</c> or <c>expired</c>.</param>
/// <param name="Result">The upstream result object JSON.</param>
public sealed record BatchResultLine(string ItemId, string Status, string Result);
