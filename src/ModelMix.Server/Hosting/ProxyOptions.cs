namespace ModelMix.Server;

/// <summary>
/// Settings of the proxy door, bound from the <c>ModelMix</c> configuration section (appsettings.json, environment
/// variables such as <c>ModelMix__Upstream</c>, <c>--config FILE</c>, and the <c>serve</c> flags).
/// </summary>
internal sealed class ProxyOptions
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

    /// <summary>
    /// The longest an upstream stream may send nothing (no event, not even a <c>ping</c>) before the proxy counts it as
    /// stalled: the client's stream is ended with an <c>error</c> event and the attempt recorded (docs/configuration.md).
    /// </summary>
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How many upstream calls may run at once for clients that hung up (the proxy lets such a call finish and records
    /// its real usage, docs/ledger.md). Past it, the call of a client that leaves is stopped and recorded with an
    /// estimated usage. 0 stops every such call.
    /// </summary>
    public int MaxOrphanedCalls { get; set; } = 256;

    /// <summary>
    /// How many more bytes of a stream the proxy reads after its client left, to learn the final usage; past it the
    /// stream is stopped and recorded with an estimated usage. An orphaned stream is also bounded by
    /// <see cref="UpstreamTimeout"/> from the moment the client left, and by <see cref="StreamIdleTimeout"/>.
    /// </summary>
    public long MaxOrphanedStreamBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// The largest upstream answer the proxy reads: a buffered answer, or one event of a stream. A larger one fails its
    /// attempt cleanly (502 <c>api_error</c>, or an <c>error</c> event ending the stream) and is recorded as
    /// <c>answer_too_large</c> with an estimated usage, so a misbehaving upstream cannot take the proxy's memory.
    /// </summary>
    public long MaxAnswerBytes { get; set; } = 32L * 1024 * 1024;

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

    /// <summary>
    /// Host names, besides loopback ones (<c>localhost</c>, <c>*.localhost</c>, 127.0.0.0/8, <c>::1</c>), that requests
    /// may be addressed to (the <c>Host</c> header, port ignored). In open mode (no keys, loopback only) a request for
    /// any other name is refused: that is how a web page reaches a local server through DNS rebinding. Once keys exist
    /// the Host is checked only when this list is set.
    /// </summary>
    public string[] AllowedHosts { get; set; } = [];

    /// <summary>
    /// Web origins (<c>scheme://host[:port]</c>) whose pages may call the proxy from a browser; they get CORS answers
    /// (preflights included). A request whose <c>Origin</c> is neither listed nor the proxy's own is refused (403): a
    /// page in a developer's browser could otherwise spend through the proxy.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>
    /// Whether <c>GET /metrics</c> needs an admin key once virtual keys exist (the default). <c>false</c> keeps it open
    /// for a scraper that cannot send a key; the metrics carry no secret, but they show spend by model and error type.
    /// </summary>
    public bool MetricsRequireAdminKey { get; set; } = true;
}
