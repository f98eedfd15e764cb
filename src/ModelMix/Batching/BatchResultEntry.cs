namespace ModelMix.Batching;

/// <summary>
/// One line of a Message Batch's results file as read (<see cref="MessageBatchesClient.ReadResultsAsync"/>): a result,
/// or what is wrong with the line. A line that names no <c>custom_id</c> has <see cref="CustomId"/> null; a line that
/// names one but carries no readable result has <see cref="Problem"/> set, so that one request can end errored alone.
/// </summary>
/// <param name="CustomId">The line's <c>custom_id</c>, or null when it has none (not JSON, not an object…).</param>
/// <param name="Type">The result type (<c>succeeded</c>, <c>errored</c>, <c>canceled</c>, <c>expired</c> — or whatever the upstream wrote), or null.</param>
/// <param name="Result">The raw result object, or null.</param>
/// <param name="Problem">Why the line cannot be used, or null when it can.</param>
public readonly record struct BatchResultEntry(string? CustomId, string? Type, string? Result, string? Problem);
