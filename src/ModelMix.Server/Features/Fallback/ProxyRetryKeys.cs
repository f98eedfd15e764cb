namespace ModelMix.Server;

/// <summary>
/// The two keys that decide whether the proxy's old <c>ModelMix:MaxRetries</c> still sets the fallback's retries, bound
/// from the <c>ModelMix</c> section (as written: only whether each is set matters): the old key, and the fallback's own
/// <c>ModelMix:Fallback:MaxRetriesPerModel</c>, which wins when both are set (<see cref="ProxyFallback.AddServices"/>).
/// </summary>
internal sealed class ProxyRetryKeys
{
    /// <summary><c>ModelMix:MaxRetries</c>, the proxy's old name of <c>ModelMix:Fallback:MaxRetriesPerModel</c>.</summary>
    public string? MaxRetries { get; set; }

    /// <summary>The <c>ModelMix:Fallback</c> keys read here.</summary>
    public FallbackKeys Fallback { get; set; } = new();

    /// <summary>Whether the old key is set.</summary>
    public bool ObsoleteKeySet => MaxRetries is { Length: > 0 };

    /// <summary>Whether <c>ModelMix:Fallback:MaxRetriesPerModel</c> is set.</summary>
    public bool NewKeySet => Fallback.MaxRetriesPerModel is { Length: > 0 };

    /// <summary><c>ModelMix:Fallback</c>, as written.</summary>
    internal sealed class FallbackKeys
    {
        /// <summary><c>ModelMix:Fallback:MaxRetriesPerModel</c>.</summary>
        public string? MaxRetriesPerModel { get; set; }
    }
}
