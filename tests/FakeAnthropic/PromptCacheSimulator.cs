using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FakeAnthropic;

/// <summary>
/// Simulates the API's prompt cache for <see cref="FakeAnthropicServer.PromptCache"/>: reads the <c>cache_control</c>
/// breakpoints of each <c>POST /v1/messages</c> and reports <c>cache_creation_input_tokens</c> (split 5m / 1h) and
/// <c>cache_read_input_tokens</c> the way the API does. The prefix up to a breakpoint (tools → system → messages, per
/// model) is written the first time it is seen and read while its entry lives (each read renews the TTL); a prefix
/// shorter than the model's minimum cacheable length is silently not cached. Tokens are counted as the UTF-8 bytes of
/// each block's compact JSON (without <c>cache_control</c>) ÷ 4, rounded up; <c>input_tokens</c> is what follows the
/// last cached or written breakpoint.
/// </summary>
public sealed class PromptCacheSimulator
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, DateTimeOffset> _entries = new(StringComparer.Ordinal);

    /// <summary>The clock that ages cache entries (a fake clock lets tests expire them).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The output tokens every simulated answer reports (default 25).</summary>
    public long OutputTokens { get; set; } = 25;

    /// <summary>
    /// Minimum cacheable prompt length by model id prefix (the longest matching prefix wins), as the Anthropic
    /// prompt-caching docs list them; models not listed use 1,024.
    /// </summary>
    public Dictionary<string, int> Minimums { get; } = new(StringComparer.Ordinal)
    {
        ["claude-opus-4-6"] = 4096,
        ["claude-opus-4-5"] = 4096,
        ["claude-sonnet-4-6"] = 2048,
        ["claude-haiku-4-5"] = 4096,
        ["claude-sonnet-4-5"] = 1024,
        ["claude-opus-4-1"] = 1024,
        ["claude-opus-4"] = 1024,
        ["claude-sonnet-4"] = 1024,
        ["claude-3-7-sonnet"] = 1024,
        ["claude-3-5-haiku"] = 2048,
        ["claude-3-haiku"] = 2048,
        ["claude-3-opus"] = 1024,
    };

    /// <summary>The number of live cache entries (prefixes written and not yet expired).</summary>
    public int EntryCount
    {
        get
        {
            lock (_gate)
            {
                var now = TimeProvider.GetUtcNow();
                return _entries.Count(e => e.Value > now);
            }
        }
    }

    /// <summary>The fake's token count of one block (or tool definition): its compact JSON without <c>cache_control</c>, UTF-8 bytes ÷ 4, rounded up.</summary>
    public static long CountTokens(JsonNode? block)
    {
        if (block is JsonObject obj && obj.ContainsKey("cache_control"))
        {
            var copy = (JsonObject)obj.DeepClone();
            copy.Remove("cache_control");
            block = copy;
        }

        var bytes = Encoding.UTF8.GetByteCount(block?.ToJsonString() ?? "null");
        return (bytes + 3) / 4;
    }

    /// <summary>The minimum cacheable length of <paramref name="model"/> from <see cref="Minimums"/>.</summary>
    public int MinimumFor(string model)
    {
        var best = (Length: -1, Value: 1024);
        foreach (var (prefix, value) in Minimums)
        {
            if (model.StartsWith(prefix, StringComparison.Ordinal) && prefix.Length > best.Length)
            {
                best = (prefix.Length, value);
            }
        }

        return best.Value;
    }

    /// <summary>Forgets every cache entry.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _entries.Clear();
        }
    }

    /// <summary>The usage the API would report for <paramref name="body"/> sent to <paramref name="model"/>; updates the cache.</summary>
    public FakeUsage Observe(JsonObject body, string model)
    {
        ArgumentNullException.ThrowIfNull(body);
        var blocks = new List<(JsonNode? Block, JsonObject? Owner)>();
        if (body["tools"] is JsonArray tools)
        {
            blocks.AddRange(tools.Select(t => (t, t as JsonObject)));
        }

        switch (body["system"])
        {
            case JsonValue text when text.GetValueKind() == JsonValueKind.String:
                blocks.Add((new JsonObject { ["type"] = "text", ["text"] = text.GetValue<string>() }, null));
                break;
            case JsonArray system:
                blocks.AddRange(system.Select(b => (b, b as JsonObject)));
                break;
        }

        if (body["messages"] is JsonArray messages)
        {
            foreach (var message in messages.OfType<JsonObject>())
            {
                var role = message["role"]?.ToJsonString() ?? "\"user\"";
                switch (message["content"])
                {
                    case JsonValue text when text.GetValueKind() == JsonValueKind.String:
                        blocks.Add((new JsonObject { ["role"] = role, ["type"] = "text", ["text"] = text.GetValue<string>() }, null));
                        break;
                    case JsonArray content:
                        blocks.AddRange(content.Select(b => (b, b as JsonObject)));
                        break;
                }
            }
        }

        var minimum = MinimumFor(model);
        var breakpoints = new List<(long Prefix, TimeSpan Ttl, string Hash)>();
        long total = 0;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(model + "\n"));
        foreach (var (block, owner) in blocks)
        {
            total += CountTokens(block);
            var canonical = block is JsonObject obj && obj.ContainsKey("cache_control") ? Without(obj) : block;
            hash.AppendData(Encoding.UTF8.GetBytes((canonical?.ToJsonString() ?? "null") + "\n"));
            if (owner?["cache_control"] is JsonObject control)
            {
                var ttl = control["ttl"]?.GetValue<string>() == "1h" ? TimeSpan.FromHours(1) : TimeSpan.FromMinutes(5);
                breakpoints.Add((total, ttl, Convert.ToHexString(hash.GetCurrentHash())));
            }
        }

        long read = 0, write5m = 0, write1h = 0;
        lock (_gate)
        {
            var now = TimeProvider.GetUtcNow();
            var hit = -1;
            for (var k = breakpoints.Count - 1; k >= 0; k--)
            {
                if (_entries.TryGetValue(breakpoints[k].Hash, out var expires) && expires > now)
                {
                    hit = k;
                    read = breakpoints[k].Prefix;
                    _entries[breakpoints[k].Hash] = now + breakpoints[k].Ttl;
                    break;
                }
            }

            var covered = read;
            for (var k = hit + 1; k < breakpoints.Count; k++)
            {
                var (prefix, ttl, key) = breakpoints[k];
                if (prefix < minimum || prefix <= covered)
                {
                    continue;
                }

                if (ttl == TimeSpan.FromHours(1))
                {
                    write1h += prefix - covered;
                }
                else
                {
                    write5m += prefix - covered;
                }

                _entries[key] = now + ttl;
                covered = prefix;
            }

            return new FakeUsage(total - covered, OutputTokens, write5m, write1h, read);
        }
    }

    private static JsonObject Without(JsonObject block)
    {
        var copy = (JsonObject)block.DeepClone();
        copy.Remove("cache_control");
        return copy;
    }
}
