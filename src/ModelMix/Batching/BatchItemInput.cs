namespace ModelMix.Batching;

/// <summary>One request to queue for the Message Batches API: the Messages body as it will be sent, and how it was routed.</summary>
/// <param name="CustomId">The caller's id for the request (returned with its result).</param>
/// <param name="Params">The Messages request body (UTF-8 JSON), model already routed; sent upstream byte for byte.</param>
/// <param name="RequestedModel">The model or alias the caller asked for.</param>
/// <param name="RoutedModel">The model the request goes to.</param>
/// <param name="Policy">The routing policy that chose it.</param>
/// <param name="Reason">The policy's reason.</param>
public sealed record BatchItemInput(string CustomId, byte[] Params, string RequestedModel, string RoutedModel, string? Policy, string? Reason);
