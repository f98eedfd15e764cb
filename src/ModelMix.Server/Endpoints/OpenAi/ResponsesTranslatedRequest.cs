using System.Text.Json.Nodes;

namespace ModelMix.Server.OpenAi;

/// <summary>A Responses API request turned into an Anthropic Messages body, and what the answer's translation needs.</summary>
/// <param name="AnthropicBody">The Messages API body sent upstream (UTF-8 JSON).</param>
/// <param name="Stream">Whether the client asked for a stream.</param>
/// <param name="Echo">The request's parameters as the Response object repeats them (read-only once translated).</param>
internal sealed record ResponsesTranslatedRequest(byte[] AnthropicBody, bool Stream, JsonObject Echo);
