using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelMix.Pipeline;

/// <summary>
/// What the stages of one logical request share: its id, the attempt counter every stage below draws from (so retries,
/// fallbacks and the iterations of a tool loop are numbered 1, 2, 3 … under one id), the decision that routed it, and
/// the money its attempts cost so far. Travels in <see cref="Microsoft.Extensions.AI.ChatOptions.AdditionalProperties"/>
/// under <see cref="Key"/>; copies of the options share the one instance.
/// </summary>
/// <remarks>
/// Serialized as <c>null</c>: a cache stage below routing (<c>UseDistributedCache</c>) hashes the options into its key,
/// and a per-request id there would make every key unique (the cache would never hit).
/// </remarks>
[JsonConverter(typeof(CacheKeyConverter))]
internal sealed class RequestScope
{
    /// <summary>The <see cref="Microsoft.Extensions.AI.ChatOptions.AdditionalProperties"/> key.</summary>
    public const string Key = "modelmix.request";

    private readonly Lock _lock = new();
    private int _attempts;
    private decimal _cost;
    private bool _unpriced;

    public RequestScope(string requestId) => RequestId = requestId;

    /// <summary>The logical request's id, shared by all its attempts.</summary>
    public string RequestId { get; }

    /// <summary>Attempts numbered so far.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    /// <summary>The routing decision, once a routing stage made one.</summary>
    public ScopeDecision? Decision { get; set; }

    /// <summary>The model the last recorded attempt was sent to.</summary>
    public string? LastRoutedModel { get; set; }

    /// <summary>The next attempt number (1 for the first).</summary>
    public int NextAttempt() => Interlocked.Increment(ref _attempts);

    /// <summary>Adds one recorded attempt's cost; <c>null</c> (unpriced) makes the request's total unknown.</summary>
    public void AddCost(decimal? cost)
    {
        lock (_lock)
        {
            if (cost is { } value)
            {
                _cost += value;
            }
            else
            {
                _unpriced = true;
            }
        }
    }

    /// <summary>The exact cost of the attempts recorded so far; <c>null</c> when one of them was unpriced.</summary>
    public decimal? Cost
    {
        get
        {
            lock (_lock)
            {
                return _unpriced ? null : _cost;
            }
        }
    }

    /// <inheritdoc />
    public override string ToString() => RequestId;

    /// <summary>Writes <c>null</c>, so the scope never changes a cache key; reads nothing back.</summary>
    private sealed class CacheKeyConverter : JsonConverter<RequestScope>
    {
        public override RequestScope? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            reader.Skip();
            return null;
        }

        public override void Write(Utf8JsonWriter writer, RequestScope value, JsonSerializerOptions options) => writer.WriteNullValue();
    }
}

/// <summary>A routing decision as the request's scope keeps it.</summary>
internal sealed record ScopeDecision(string? Model, string Policy, string Reason, string RequestedModel, string? Effort);
