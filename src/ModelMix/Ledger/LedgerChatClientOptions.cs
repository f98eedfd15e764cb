namespace ModelMix.Pipeline;

/// <summary>Options of <see cref="LedgerChatClient"/>. The defaults work; set only what your app needs.</summary>
public sealed class LedgerChatClientOptions
{
    /// <summary>
    /// The clock that stamps records and measures latency. When <c>null</c>, the <see cref="System.TimeProvider"/>
    /// registered in the builder's services is used, else <see cref="System.TimeProvider.System"/>.
    /// </summary>
    public TimeProvider? TimeProvider { get; set; }

    /// <summary>The policy recorded when no routing stage names one in the options (a call straight to a model).</summary>
    public string DefaultPolicy { get; set; } = "passthrough";

    /// <summary>The key id recorded when the options carry none (e.g. the one key a service app runs under).</summary>
    public string? DefaultKeyId { get; set; }

    /// <summary>The model recorded when neither the options nor the inner client's metadata name one.</summary>
    public string UnknownModel { get; set; } = "unknown";

    /// <summary>
    /// Called with each attempt's intent (its record id, request, routing and worst-case usage) before the attempt is
    /// sent; the attempt is sent once the returned task completes, and not at all when it fails. A server that journals
    /// attempts (docs/ledger.md, "Crash consistency") makes the intent durable here; its record deletes it. Null: none.
    /// </summary>
    public Func<Ledger.LedgerIntent, CancellationToken, Task>? RegisterIntent { get; set; }
}
