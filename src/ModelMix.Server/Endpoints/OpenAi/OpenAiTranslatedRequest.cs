namespace ModelMix.Server.OpenAi;

/// <summary>A Chat Completions request turned into an Anthropic Messages body, and what the answer's translation needs.</summary>
/// <param name="AnthropicBody">The Messages API body sent upstream (UTF-8 JSON).</param>
/// <param name="Stream">Whether the client asked for a stream.</param>
/// <param name="IncludeUsage">Whether a stream ends with a usage chunk (<c>stream_options.include_usage</c>).</param>
internal sealed record OpenAiTranslatedRequest(byte[] AnthropicBody, bool Stream, bool IncludeUsage);
