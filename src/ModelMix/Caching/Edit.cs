namespace ModelMix.Caching;

/// <summary>
/// One breakpoint to splice into the original bytes: the slash-separated path of the block object (or of the string
/// <c>system</c> / <c>content</c> value to wrap), and the TTL.
/// </summary>
internal sealed record Edit(string Path, bool IsString, PromptCacheTtl Ttl);
