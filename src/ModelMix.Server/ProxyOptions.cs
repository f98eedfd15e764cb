namespace ModelMix.Server;

/// <summary>
/// Settings of the proxy door, bound from the <c>ModelMix</c> configuration section (appsettings.json, environment
/// variables such as <c>ModelMix__Upstream</c>, <c>--config FILE</c>, and the <c>serve</c> flags).
/// </summary>
public sealed class ProxyOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "ModelMix";

    /// <summary>Base URL of the Anthropic API (or a compatible upstream) that requests are forwarded to.</summary>
    public Uri Upstream { get; set; } = new("https://api.anthropic.com");

    /// <summary>
    /// The upstream API key. Defaults to the <c>ANTHROPIC_API_KEY</c> environment variable; never logged, returned
    /// or stored in the ledger.
    /// </summary>
    public string? UpstreamApiKey { get; set; }

    /// <summary>Path of the SQLite ledger file (the older name of <see cref="Store"/>, used when Store is not set).</summary>
    public string Db { get; set; } = "modelmix.db";

    /// <summary>
    /// Where the ledger, keys, budgets and cooldowns live: a SQLite file path, or a PostgreSQL database shared by
    /// several replicas (<c>postgres://user:password@host:5432/db</c> or an Npgsql connection string). When unset,
    /// <see cref="Db"/> is used. The password is never logged.
    /// </summary>
    public string? Store { get; set; }

    /// <summary>After a 429 or 529 without <c>retry-after</c>, how long the model counts as cooling down (skipped for the fallback chain's next model, on every replica sharing the store).</summary>
    public TimeSpan CooldownWithoutRetryAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many <c>modelmix serve</c> replicas share <see cref="Store"/> (default 1). Only the connection check at start
    /// uses it: with a PostgreSQL store, each replica warns when this × its pool's <c>Maximum Pool Size</c> exceeds the
    /// connections the server allows the role (docs/deploy.md, sizing the connections).
    /// </summary>
    public int Replicas { get; set; } = 1;

    /// <summary>The store setting in force: <see cref="Store"/>, or else <see cref="Db"/>.</summary>
    internal string StoreSetting => Store is { Length: > 0 } store ? store : Db;

    /// <summary>Optional price book file that overlays the embedded defaults.</summary>
    public string? Prices { get; set; }

    /// <summary>
    /// What happens to a request for a model id the catalog has no price for: <c>Forward</c> (default; sent and recorded
    /// unpriced, refused only where a budget applies) or <c>Refuse</c> (a 400 before anything is sent).
    /// </summary>
    public ModelMix.Pricing.UnpricedModelHandling UnpricedModels { get; set; }

    /// <summary>Largest request body accepted, in bytes (Anthropic's own limit for the Messages API is 32 MB).</summary>
    public long MaxRequestBodyBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>How long to wait for the upstream's response headers before the attempt counts as timed out.</summary>
    public TimeSpan UpstreamTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Retries after a retryable upstream failure (429, 529, 5xx, connection failure) before any byte reached the client.</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>Base delay of the exponential back-off between retries when the upstream gives no <c>retry-after</c>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest the proxy waits before a retry, even when <c>retry-after</c> asks for more; past it the error goes back to the client.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The <c>anthropic-version</c> sent upstream when the client sent none.</summary>
    public string DefaultAnthropicVersion { get; set; } = "2023-06-01";

    /// <summary>Most a <c>kill -9</c> can lose: the ledger commits buffered records at least this often.</summary>
    public TimeSpan LedgerFlushInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Runs every connection's request processing and socket writes on the runtime's socket event threads instead of
    /// the thread pool (Kestrel's <c>UnsafePreferInlineScheduling</c>), however many connections are open: fewer thread
    /// hand-offs per request, so less added latency, but less peak throughput when many connections saturate the
    /// cores (docs/performance.md). Off by default; <see cref="InlineConnections"/> applies it to the first few.
    /// </summary>
    public bool InlineScheduling { get; set; }

    /// <summary>
    /// A connection accepted while at most this many are open (itself counted) runs inline on the socket event threads,
    /// like <see cref="InlineScheduling"/>; connections accepted past that run on the thread pool. A few busy
    /// connections get the least added latency, many get the pool's throughput (<see cref="AdaptiveSocketTransport"/>).
    /// 0 runs every connection on the thread pool.
    /// </summary>
    public int InlineConnections { get; set; } = DefaultInlineConnections;

    /// <summary>The default of <see cref="InlineConnections"/>.</summary>
    public const int DefaultInlineConnections = 4;

    /// <summary>Cap in USD on the total spend of one <c>x-modelmix-session</c> (per key); null: no session budget.</summary>
    public decimal? SessionBudgetUsd { get; set; }

    /// <summary>How long a budget reservation that was never settled (its process died) holds money before it is reclaimed.</summary>
    public TimeSpan ReservationTtl { get; set; } = TimeSpan.FromMinutes(15);
}
