using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FakeAnthropic;

/// <summary>
/// Simulates the API's preserved thinking for <see cref="FakeAnthropicServer.PreservedThinking"/>
/// (https://platform.claude.com/docs/en/build-with-claude/preserved-thinking and its prefix-checks page):
/// <list type="bullet">
/// <item>Every <c>POST /v1/messages</c> answer of a thinking request (any <c>thinking</c> but <c>disabled</c>, or no
/// <c>thinking</c> on a Claude 5.x model, which think by default) starts with a block
/// <c>{"type":"thinking","thinking":"","signature":"…"}</c> (content block 0 of a stream: <c>content_block_start</c>,
/// <c>signature_delta</c>, <c>content_block_stop</c>). The signature binds the block to the model that produced it, to
/// its own text and position, and to its prefix: the request's <c>system</c>, <c>tools</c> and every message (the block
/// will sit in the next request right after them, as the first block of the assistant turn).</item>
/// <item>A request to a model with preserved thinking (<see cref="TiedModels"/>) has every <c>thinking</c> /
/// <c>redacted_thinking</c> block in <c>messages</c> checked: a signature this simulator did not issue (or a changed
/// block) is a 400 <c>Invalid `signature` in `thinking` block.</c>; a block the model cannot read
/// (<see cref="CanRead"/>) is dropped without an error (<c>model_binding_mismatch</c>); a block whose prefix differs
/// from the one it was produced after is a 400 "bound to a different conversation" unless the request sets
/// <c>thinking.block_binding.prefix_mismatch_behavior: "drop_block"</c>, which drops it (<c>prefix_binding_mismatch</c>).
/// The answer reports the dropped blocks in a top-level <c>input_transformations</c> array (inside
/// <c>message_start</c>'s message when streaming), <c>[]</c> when none; answers of other models carry no such array.</item>
/// </list>
/// </summary>
/// <remarks>
/// Prefix comparison follows JSON semantics: each side is parsed and written as canonical JSON (object members sorted,
/// strings and numbers re-encoded), so key order, whitespace and escapes never count. Two choices the docs do not
/// settle (see the README): <see cref="IgnoreCacheControl"/> (default true: <c>cache_control</c> members are not part of
/// the prefix, since prompt-caching breakpoints legitimately move from turn to turn) and <see cref="NormalizeShorthand"/>
/// (default true: a string <c>system</c> / <c>content</c> equals one text block, absent <c>system</c> / <c>tools</c>
/// equal empty ones, as the Messages API documents these forms as equivalent). Each block is checked against its own
/// prefix, so a change invalidates exactly the thinking produced before it and sent after it ("a change only
/// invalidates thinking already after it; thinking before it, and thinking Claude produces afterwards, stay valid").
/// Not modelled: the <c>thinking-binding-controls-2026-08-01</c> beta header, account / organization binding, the
/// token accounting of dropped blocks, and per-account enforcement dates (every tied model enforces the prefix check).
/// </remarks>
public sealed partial class PreservedThinkingSimulator
{
    /// <summary>The <c>reason</c> of a block the current model cannot read.</summary>
    public const string ModelBindingMismatch = "model_binding_mismatch";

    /// <summary>The <c>reason</c> of a block whose prefix changed (with <c>drop_block</c>).</summary>
    public const string PrefixBindingMismatch = "prefix_binding_mismatch";

    /// <summary>The <c>input_transformations</c> entry type of a dropped block.</summary>
    public const string ThinkingDropped = "thinking_dropped";

    private const byte Version = 1;
    private const int HashLength = 32;

    private static readonly string[] Readers51 = ["claude-fable-5-1", "claude-mythos-5-1"];
    private static readonly string[] Readers52 = ["claude-fable-5-2", "claude-mythos-5-2"];

    /// <summary>
    /// Which models read which models' blocks besides their own (producer → readers). Sources: the preserved-thinking
    /// page (Fable 5.1 reads Opus 5 and Opus 5.5 blocks; neither reads Fable 5.1's), the Fable 5.1 page (Fable 5.1 reads
    /// earlier models' blocks, no earlier model reads its blocks; Fable 5.1 blocks are read by Fable 5.1 and Mythos 5.1),
    /// the Fable 5.2 page (Fable 5.2 blocks: only Fable 5.2 and Mythos 5.2). Mythos 5.1 is given Fable 5.1's readings and
    /// Fable 5.1 Mythos 5.1's blocks (assumed symmetric, like the 5.2 pair).
    /// </summary>
    private static readonly Dictionary<string, string[]> ExtraReaders = new(StringComparer.Ordinal)
    {
        ["claude-opus-5"] = Readers51,
        ["claude-opus-5-5"] = Readers51,
        ["claude-fable-5"] = Readers51,
        ["claude-mythos-5"] = Readers51,
        ["claude-fable-5-1"] = Readers51,
        ["claude-mythos-5-1"] = Readers51,
        ["claude-fable-5-2"] = Readers52,
        ["claude-mythos-5-2"] = Readers52,
    };

    private readonly byte[] _key;
    private int _produced;
    private int _dropped;
    private int _rejected;

    /// <summary>A simulator with a fresh random signing key (signatures of another instance are forgeries to it).</summary>
    public PreservedThinkingSimulator()
        : this(RandomNumberGenerator.GetBytes(32))
    {
    }

    /// <summary>A simulator signing with <paramref name="key"/> (share a key to accept another instance's blocks).</summary>
    public PreservedThinkingSimulator(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfLessThan(key.Length, 16, nameof(key));
        _key = [.. key];
    }

    /// <summary>
    /// The models with the prefix check (front matter of the prefix-checks page, supportedModels): requests to them have
    /// their thinking blocks checked and their answers carry <c>input_transformations</c>.
    /// </summary>
    public static IReadOnlySet<string> TiedModels { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5",
        "claude-fable-5-1", "claude-mythos-5-1", "claude-fable-5-2", "claude-mythos-5-2",
    };

    /// <summary>
    /// Whether <c>cache_control</c> members of <c>system</c> blocks, tool definitions and content blocks are left out of
    /// the prefix (default true). The docs do not say; prompt-caching breakpoints move between turns by design.
    /// </summary>
    public bool IgnoreCacheControl { get; set; } = true;

    /// <summary>
    /// Whether a string <c>system</c>, message <c>content</c> or <c>tool_result</c> content counts as the same prefix as
    /// one <c>{"type":"text"}</c> block, and an absent <c>system</c> / <c>tools</c> as an empty one (default true). The
    /// docs do not say; false compares the JSON shapes as sent.
    /// </summary>
    public bool NormalizeShorthand { get; set; } = true;

    /// <summary>Thinking blocks signed so far: one per thinking request that passed the check (a scripted error or fault still counts).</summary>
    public int ProducedBlocks => Volatile.Read(ref _produced);

    /// <summary>Thinking blocks dropped from requests so far (both reasons).</summary>
    public int DroppedBlocks => Volatile.Read(ref _dropped);

    /// <summary>Requests refused with a 400 so far (invalid signature or prefix mismatch).</summary>
    public int RejectedRequests => Volatile.Read(ref _rejected);

    /// <summary>The model id the rules use for <paramref name="model"/>: a dated snapshot maps to its alias.</summary>
    public static string Canonical(string model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return ModelRequestRules.Find(model)?.Id ?? model;
    }

    /// <summary>Whether <paramref name="reader"/> can read a thinking block produced by <paramref name="producer"/>.</summary>
    public static bool CanRead(string reader, string producer)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(producer);
        reader = Canonical(reader);
        producer = Canonical(producer);
        return reader == producer
            || (ExtraReaders.TryGetValue(producer, out var readers) && readers.Contains(reader, StringComparer.Ordinal));
    }

    /// <summary>[docs] The 400 for a block whose prefix changed (fix-bound-to-a-different-conversation page).</summary>
    public static string PrefixMismatchMessage(int message, int block, string blockType = "thinking") =>
        $"messages.{message}.content.{block}: Invalid `signature` in `{blockType}` block. The block is bound to a different conversation. "
        + "Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to \"drop_block\".";

    /// <summary>[3P] The 400 for a tampered or unknown signature (same opening sentence, no "bound to" clause).</summary>
    public static string InvalidSignatureMessage(int message, int block, string blockType = "thinking") =>
        $"messages.{message}.content.{block}: Invalid `signature` in `{blockType}` block.";

    /// <summary>The model that produced a block with <paramref name="signature"/>, or null when this simulator did not sign it.</summary>
    public string? ProducerOf(string signature) => Open(signature) is { } opened ? opened.Model : null;

    /// <summary>
    /// Checks a <c>POST /v1/messages</c> (or count_tokens) body and prepares the answer's additions: the 400 message, or
    /// the leading thinking block (when the request thinks) and <c>input_transformations</c> (tied models only).
    /// </summary>
    internal PreservedThinkingReply Evaluate(JsonObject body)
    {
        var model = Canonical(body["model"]?.GetValue<string>() ?? string.Empty);
        var messages = body["messages"] as JsonArray ?? [];
        var prefixes = PrefixHashes(body, messages);
        JsonArray? transformations = null;
        if (TiedModels.Contains(model))
        {
            if (Check(body, model, messages, prefixes, out transformations) is { } error)
            {
                Interlocked.Increment(ref _rejected);
                return new PreservedThinkingReply(error, null, null);
            }

            Interlocked.Add(ref _dropped, transformations!.Count);
        }

        JsonObject? block = null;
        if (Thinks(body, model))
        {
            block = new JsonObject
            {
                ["type"] = "thinking",
                ["thinking"] = string.Empty,
                ["signature"] = Sign(model, index: 0, prefixes[^1], "thinking", string.Empty),
            };
            Interlocked.Increment(ref _produced);
        }

        return new PreservedThinkingReply(null, block, transformations);
    }

    /// <summary>
    /// The 400 message for a <c>POST /v1/messages/count_tokens</c> body, or null: a third-party report says the
    /// token-counting endpoint runs the same check (and, per the AWS mirror, returns no <c>input_transformations</c>).
    /// </summary>
    internal string? CountTokensProblem(JsonObject body)
    {
        var model = Canonical(body["model"]?.GetValue<string>() ?? string.Empty);
        var messages = body["messages"] as JsonArray ?? [];
        return TiedModels.Contains(model) ? Check(body, model, messages, PrefixHashes(body, messages), out _) : null;
    }

    /// <summary>The 400 message for a body, or null; dropped blocks are listed in <paramref name="transformations"/>.</summary>
    private string? Check(JsonObject body, string model, JsonArray messages, byte[][] prefixes, out JsonArray transformations)
    {
        transformations = [];
        var blocks = new List<(int Message, int Block, string Type, Opened Signed)>();

        // A tampered or unknown signature is always a 400, whatever prefix_mismatch_behavior says.
        for (var i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject { } message || message["content"] is not JsonArray content)
            {
                continue;
            }

            for (var j = 0; j < content.Count; j++)
            {
                if (content[j] is not JsonObject item || String(item["type"]) is not { } type || type is not ("thinking" or "redacted_thinking"))
                {
                    continue;
                }

                var signature = String(item[type == "thinking" ? "signature" : "data"]);
                var text = type == "thinking" ? String(item["thinking"]) ?? string.Empty : string.Empty;
                if (signature is null || Open(signature) is not { } opened || opened.Type != type
                    || !CryptographicOperations.FixedTimeEquals(opened.TextHash, SHA256.HashData(Encoding.UTF8.GetBytes(text))))
                {
                    return InvalidSignatureMessage(i, j, type);
                }

                blocks.Add((i, j, type, opened));
            }
        }

        var dropOnPrefixMismatch = body["thinking"] is JsonObject thinking
            && thinking["block_binding"] is JsonObject binding
            && String(binding["prefix_mismatch_behavior"]) == "drop_block";
        foreach (var (i, j, type, signed) in blocks)
        {
            string reason;
            if (!CanRead(model, signed.Model))
            {
                reason = ModelBindingMismatch; // dropped without an error, whatever the request says
            }
            else if (signed.Index == j && CryptographicOperations.FixedTimeEquals(signed.Prefix, prefixes[i]))
            {
                continue;
            }
            else if (!dropOnPrefixMismatch)
            {
                return PrefixMismatchMessage(i, j, type);
            }
            else
            {
                reason = PrefixBindingMismatch;
            }

            transformations.Add(new JsonObject
            {
                ["type"] = ThinkingDropped,
                ["path"] = $"messages.{i}.content.{j}",
                ["reason"] = reason,
            });
        }

        return null;
    }

    /// <summary>Whether the answer thinks: any thinking mode but disabled, or none given to a Claude 5.x model.</summary>
    private static bool Thinks(JsonObject body, string model) => body["thinking"] switch
    {
        JsonObject thinking when String(thinking["type"]) is { } type => type != "disabled",
        _ => FiveFamily().IsMatch(model),
    };

    [GeneratedRegex(@"^claude-(opus|sonnet|haiku|fable|mythos)-5(-|$)", RegexOptions.CultureInvariant)]
    private static partial Regex FiveFamily();

    /// <summary>hashes[i] = the prefix of a block in messages[i]: system, tools and messages[0..i-1]; hashes[n] covers them all.</summary>
    private byte[][] PrefixHashes(JsonObject body, JsonArray messages)
    {
        var hashes = new byte[messages.Count + 1][];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new ArrayBufferWriter<byte>();
        Append(hash, buffer, "system", Blocks(body["system"], absentIsEmpty: NormalizeShorthand));
        Append(hash, buffer, "tools", Tools(body["tools"]));
        hashes[0] = hash.GetCurrentHash();
        for (var i = 0; i < messages.Count; i++)
        {
            Append(hash, buffer, "message", Message(messages[i]));
            hashes[i + 1] = hash.GetCurrentHash();
        }

        return hashes;
    }

    private static void Append(IncrementalHash hash, ArrayBufferWriter<byte> buffer, string label, JsonNode? node)
    {
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteCanonical(writer, node);
        }

        hash.AppendData(Encoding.UTF8.GetBytes(label + "\n"));
        hash.AppendData(buffer.WrittenSpan);
        hash.AppendData("\n"u8);
    }

    private JsonNode? Tools(JsonNode? tools)
    {
        if (tools is not JsonArray array)
        {
            return tools is null && NormalizeShorthand ? new JsonArray() : tools?.DeepClone();
        }

        return new JsonArray([.. array.Select(t => t is JsonObject tool ? WithoutCacheControl(tool) : t?.DeepClone())]);
    }

    private JsonNode? Message(JsonNode? message)
    {
        if (message is not JsonObject obj)
        {
            return message?.DeepClone();
        }

        var copy = new JsonObject();
        foreach (var (name, value) in obj)
        {
            copy[name] = name == "content" ? Blocks(value, absentIsEmpty: false) : value?.DeepClone();
        }

        return copy;
    }

    /// <summary>A system / content value as a list of blocks (string shorthand expanded when normalizing), without cache_control.</summary>
    private JsonNode? Blocks(JsonNode? value, bool absentIsEmpty)
    {
        switch (value)
        {
            case null:
                return absentIsEmpty ? new JsonArray() : null;
            case JsonValue text when NormalizeShorthand && text.GetValueKind() == JsonValueKind.String:
                return new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text.GetValue<string>() });
            case JsonArray array:
                return new JsonArray([.. array.Select(Block)]);
            default:
                return value.DeepClone();
        }
    }

    private JsonNode? Block(JsonNode? block)
    {
        if (block is not JsonObject obj)
        {
            return block?.DeepClone();
        }

        var copy = WithoutCacheControl(obj);
        if (String(obj["type"]) == "tool_result" && obj["content"] is { } inner)
        {
            copy["content"] = Blocks(inner, absentIsEmpty: false);
        }

        return copy;
    }

    private JsonObject WithoutCacheControl(JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        if (IgnoreCacheControl)
        {
            copy.Remove("cache_control");
        }

        return copy;
    }

    /// <summary>Canonical JSON: object members sorted by name, strings and numbers re-encoded.</summary>
    private static void WriteCanonical(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(name);
                    WriteCanonical(writer, value);
                }

                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    WriteCanonical(writer, item);
                }

                writer.WriteEndArray();
                break;
            case JsonValue value:
                switch (value.GetValueKind())
                {
                    case JsonValueKind.String:
                        writer.WriteStringValue(value.GetValue<string>());
                        break;
                    case JsonValueKind.Number when value.TryGetValue<long>(out var integer):
                        writer.WriteNumberValue(integer);
                        break;
                    case JsonValueKind.Number when value.TryGetValue<double>(out var real) && double.IsFinite(real):
                        writer.WriteNumberValue(real);
                        break;
                    case JsonValueKind.Number:
                        writer.WriteRawValue(value.ToJsonString(), skipInputValidation: true);
                        break;
                    case JsonValueKind.True:
                        writer.WriteBooleanValue(true);
                        break;
                    case JsonValueKind.False:
                        writer.WriteBooleanValue(false);
                        break;
                    default:
                        writer.WriteNullValue();
                        break;
                }

                break;
        }
    }

    /// <summary>
    /// The signature: base64 of [version][type][model length][model][block index (2 bytes)][prefix SHA-256][text SHA-256]
    /// followed by an HMAC-SHA256 of all that under the simulator's key, so a client can neither forge one nor move a block.
    /// </summary>
    private string Sign(string model, int index, byte[] prefix, string type, string text)
    {
        var modelBytes = Encoding.UTF8.GetBytes(model);
        if (modelBytes.Length > byte.MaxValue)
        {
            throw new ArgumentException("The model id is too long to sign.", nameof(model));
        }

        var payload = new List<byte>(4 + modelBytes.Length + 2 + HashLength * 2)
        {
            Version,
            type == "thinking" ? (byte)0 : (byte)1,
            (byte)modelBytes.Length,
        };
        payload.AddRange(modelBytes);
        payload.Add((byte)(index >> 8));
        payload.Add((byte)index);
        payload.AddRange(prefix);
        payload.AddRange(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        var data = payload.ToArray();
        return Convert.ToBase64String([.. data, .. HMACSHA256.HashData(_key, data)]);
    }

    private Opened? Open(string signature)
    {
        var raw = new byte[signature.Length];
        if (!Convert.TryFromBase64String(signature, raw, out var length) || length < 3 + 2 + HashLength * 3)
        {
            return null;
        }

        var data = raw.AsSpan(0, length - HashLength);
        var mac = raw.AsSpan(length - HashLength, HashLength);
        if (!CryptographicOperations.FixedTimeEquals(mac, HMACSHA256.HashData(_key, data)) || data[0] != Version)
        {
            return null;
        }

        var modelLength = data[2];
        if (data.Length != 3 + modelLength + 2 + HashLength * 2)
        {
            return null;
        }

        var at = 3 + modelLength;
        return new Opened(
            data[1] == 0 ? "thinking" : "redacted_thinking",
            Encoding.UTF8.GetString(data.Slice(3, modelLength)),
            (data[at] << 8) | data[at + 1],
            data.Slice(at + 2, HashLength).ToArray(),
            data.Slice(at + 2 + HashLength, HashLength).ToArray());
    }

    private static string? String(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private sealed record Opened(string Type, string Model, int Index, byte[] Prefix, byte[] TextHash);
}

/// <summary>
/// What <see cref="PreservedThinkingSimulator"/> decided for one request: a 400 message, or what to add to the answer
/// (the leading thinking block and the <c>input_transformations</c> array, each null when not added).
/// </summary>
internal sealed record PreservedThinkingReply(string? Error, JsonObject? LeadingBlock, JsonArray? InputTransformations)
{
    /// <summary>Adds the block (as content[0]) and the array (after <c>usage</c>) to a Message object.</summary>
    public void ApplyTo(JsonObject message)
    {
        if (LeadingBlock is not null)
        {
            if (message["content"] is not JsonArray content)
            {
                content = [];
                message["content"] = content;
            }

            content.Insert(0, LeadingBlock.DeepClone());
        }

        if (InputTransformations is not null)
        {
            message["input_transformations"] = InputTransformations.DeepClone();
        }
    }

    /// <summary>
    /// Adds the array to <c>message_start</c>'s message and the block as content block 0 (start, signature delta, stop,
    /// right after <c>message_start</c>), shifting the fixture's content block indexes by one.
    /// </summary>
    public IReadOnlyList<SseEvent> ApplyTo(IReadOnlyList<SseEvent> events)
    {
        var result = new List<SseEvent>(events.Count + 3);
        foreach (var ev in events)
        {
            switch (ev.Name)
            {
                case "message_start":
                {
                    var data = JsonNode.Parse(ev.Data)!.AsObject();
                    if (InputTransformations is not null && data["message"] is JsonObject message)
                    {
                        message["input_transformations"] = InputTransformations.DeepClone();
                    }

                    result.Add(ev with { Data = data.ToJsonString(ReplyBodies.Wire) });
                    if (LeadingBlock is not null)
                    {
                        var start = (JsonObject)LeadingBlock.DeepClone();
                        var signature = start["signature"]!.GetValue<string>();
                        start["signature"] = string.Empty;
                        result.Add(Event("content_block_start", new JsonObject { ["type"] = "content_block_start", ["index"] = 0, ["content_block"] = start }));
                        result.Add(Event("content_block_delta", new JsonObject
                        {
                            ["type"] = "content_block_delta",
                            ["index"] = 0,
                            ["delta"] = new JsonObject { ["type"] = "signature_delta", ["signature"] = signature },
                        }));
                        result.Add(Event("content_block_stop", new JsonObject { ["type"] = "content_block_stop", ["index"] = 0 }));
                    }

                    break;
                }

                case "content_block_start" or "content_block_delta" or "content_block_stop" when LeadingBlock is not null:
                {
                    var data = JsonNode.Parse(ev.Data)!.AsObject();
                    if (data["index"] is JsonValue index && index.TryGetValue<int>(out var at))
                    {
                        data["index"] = at + 1;
                    }

                    result.Add(ev with { Data = data.ToJsonString(ReplyBodies.Wire) });
                    break;
                }

                default:
                    result.Add(ev);
                    break;
            }
        }

        return result;
    }

    private static SseEvent Event(string name, JsonObject data) => new(name, data.ToJsonString(ReplyBodies.Wire));
}
