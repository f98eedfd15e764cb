using ModelMix.Batching;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>Options of the batching stage (<see cref="BatchingChatClient"/>).</summary>
public sealed class BatchingChatClientOptions
{
    /// <summary>The durable queue calls go to. Required (the builder extension takes it from the services when unset).</summary>
    public IBatchStore? Store { get; set; }

    /// <summary>The batcher to wake when a call is queued (else it picks the call up at its next idle pass).</summary>
    public Batcher? Batcher { get; set; }

    /// <summary>
    /// The <c>max_tokens</c> of a call whose options set no <c>MaxOutputTokens</c>; null keeps the Anthropic SDK's
    /// default. Use the same value as the SDK client below, so batched and synchronous calls send the same body.
    /// </summary>
    public int? DefaultMaxOutputTokens { get; set; }

    /// <summary>The first wait between two looks at the queue while a call waits for its answer; each look doubles it.</summary>
    public TimeSpan WaitPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two looks at the queue while a call waits.</summary>
    public TimeSpan MaxWaitPollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Prices the routed model before a call is queued (an unpriced model is refused); services' or the default when null.</summary>
    public PriceBook? PriceBook { get; set; }

    /// <summary>The key id recorded for calls whose options carry none.</summary>
    public string? DefaultKeyId { get; set; }

    /// <summary>The clock of the job ids and of the waits; services' or the system clock when null.</summary>
    public TimeProvider? TimeProvider { get; set; }
}
