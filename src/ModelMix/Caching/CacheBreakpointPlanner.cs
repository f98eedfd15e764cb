using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Caching;

/// <summary>
/// Adds <c>cache_control</c> breakpoints to the stable prefix of a raw Anthropic Messages request, in the API's
/// prefix order (tools → system → earlier messages): on the last tool, the last system block and the last block of
/// the second-to-last user turn. It keeps every breakpoint the caller set, never exceeds
/// <see cref="PromptCachingOptions.MaxBreakpoints"/> in total, keeps 1-hour breakpoints before 5-minute ones, and adds
/// none whose estimated prefix is shorter than the model's minimum cacheable length (the API would silently cache
/// nothing). Works on JSON so that both the proxy door and the library door can use it.
/// </summary>
public sealed class CacheBreakpointPlanner
{
    /// <summary>The tokens assumed for an image or a binary document block, whose size the planner does not decode.</summary>
    public const long MediaBlockTokens = 1_600;

    private const string CacheControl = "cache_control";

    private readonly PriceBook _priceBook;
    private readonly PromptCachingOptions _options;

    /// <summary>Creates a planner over a price book (for each model's minimum cacheable length) and options.</summary>
    /// <param name="priceBook">The price book that knows <see cref="ModelPriceEntry.MinCacheableTokens"/>.</param>
    /// <param name="options">Where and how to place breakpoints; null for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="PromptCachingOptions.MaxBreakpoints"/> is not 0 to 4.</exception>
    public CacheBreakpointPlanner(PriceBook priceBook, PromptCachingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(priceBook);
        options ??= new PromptCachingOptions();
        if (options.MaxBreakpoints is < 0 or > PromptCachingOptions.ApiMaxBreakpoints)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options),
                options.MaxBreakpoints,
                $"PromptCaching:MaxBreakpoints must be between 0 and {PromptCachingOptions.ApiMaxBreakpoints}.");
        }

        _priceBook = priceBook;
        _options = options;
    }

    /// <summary>
    /// Adds breakpoints to <paramref name="body"/> in place and says what it did. Planning an already planned body
    /// adds nothing.
    /// </summary>
    /// <param name="body">The Messages request body (a JSON object); changed in place.</param>
    /// <param name="model">The model the request is routed to (it may differ from the body's <c>model</c>).</param>
    /// <returns>The plan: breakpoints found and added, cached prefix estimate, and the reason for each skip.</returns>
    /// <exception cref="CachePlanningException">The body is not a Messages request of the expected shape.</exception>
    public CacheBreakpointPlan Apply(JsonNode body, string model)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentException.ThrowIfNullOrEmpty(model);
        return ApplyCore(body, model, edits: null);
    }

    /// <summary>
    /// The byte-faithful variant for the proxy: plans on a parsed copy, then inserts only the <c>cache_control</c>
    /// members into the original UTF-8 bytes, so formatting, key order and fields the planner does not know survive.
    /// A string <c>system</c> or message <c>content</c> that gets a breakpoint becomes a one-block array around the
    /// original string token, escapes untouched.
    /// </summary>
    /// <param name="body">The raw request body (UTF-8 JSON).</param>
    /// <param name="model">The model the request is routed to.</param>
    /// <returns>The body to forward (the original memory when nothing changed) and the plan.</returns>
    /// <exception cref="CachePlanningException">The body is not JSON, or not a Messages request of the expected shape.</exception>
    public CacheBreakpointUtf8Result ApplyUtf8(ReadOnlyMemory<byte> body, string model)
    {
        ArgumentException.ThrowIfNullOrEmpty(model);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body.Span);
        }
        catch (JsonException ex)
        {
            throw new CachePlanningException($"The request body is not valid JSON: {ex.Message}", ex);
        }

        if (node is null)
        {
            throw new CachePlanningException("The request body must be a JSON object, not null.");
        }

        var edits = new List<Edit>();
        var plan = ApplyCore(node, model, edits);
        return edits.Count == 0
            ? new CacheBreakpointUtf8Result(body, plan)
            : new CacheBreakpointUtf8Result(Utf8Splicer.Splice(body.Span, edits), plan);
    }

    private CacheBreakpointPlan ApplyCore(JsonNode body, string model, List<Edit>? edits)
    {
        if (body is not JsonObject root)
        {
            throw new CachePlanningException($"The request body must be a JSON object, not {body.GetValueKind()}.");
        }

        Scan scan;
        try
        {
            scan = ScanRequest(root);
        }
        catch (ArgumentException ex)
        {
            // JsonObject reports a duplicate property name only when first read.
            throw new CachePlanningException($"The request body cannot be read as a Messages request: {ex.Message}", ex);
        }

        var existing = scan.Slots
            .Where(s => s.ExistingTtl is not null)
            .Select(s => s.ToBreakpoint(s.ExistingTtl!.Value, setByCaller: true))
            .Concat(scan.Nested)
            .ToList();
        var skipped = new List<string>();
        int? minimum = null;

        CacheBreakpointPlan Result(IReadOnlyList<CacheBreakpoint> added) => new()
        {
            Model = model,
            MinCacheableTokens = minimum,
            Existing = existing,
            Added = added,
            EstimatedCachedPrefixTokens = existing.Concat(added).Select(b => b.PrefixTokens).DefaultIfEmpty(0).Max(),
            Skipped = skipped,
        };

        if (root.ContainsKey(CacheControl))
        {
            skipped.Add("the request sets a top-level cache_control (automatic caching); left to the API");
            return Result([]);
        }

        if (!_priceBook.TryGetEntry(model, out var entry))
        {
            skipped.Add($"model {model} is not in the price book, so its minimum cacheable length is unknown; no breakpoints added");
            return Result([]);
        }

        minimum = entry.MinCacheableTokens;
        if (minimum is null)
        {
            skipped.Add($"the minimum cacheable length of {model} is unknown (or it does not support caching); no breakpoints added");
            return Result([]);
        }

        var ttl = _options.Ttl;
        var eligible = new List<Slot>();
        foreach (var (candidate, what) in Candidates(scan, skipped))
        {
            if (candidate.ExistingTtl is not null)
            {
                skipped.Add($"{what} ({candidate.Path}) already has the caller's breakpoint; kept as is");
                continue;
            }

            if (!candidate.CanCarryBreakpoint)
            {
                skipped.Add(candidate.StringOwner is null
                    ? $"{what} ({candidate.Path}) is an empty or thinking block, which cannot carry a breakpoint"
                    : $"{what} ({candidate.Path}) is an empty or whitespace-only string, which the API refuses as a text block (so it cannot carry a breakpoint)");
                continue;
            }

            if (candidate.PrefixTokens < minimum.Value)
            {
                skipped.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{what} ({candidate.Path}): prefix ~{candidate.PrefixTokens:N0} tokens < {minimum.Value:N0} minimum for {model}"));
                continue;
            }

            var conflict = scan.Slots.FirstOrDefault(s => s.ExistingTtl is { } t && t != ttl
                && (ttl == PromptCacheTtl.FiveMinutes ? s.Order > candidate.Order : s.Order < candidate.Order));
            if (conflict is not null)
            {
                skipped.Add(ttl == PromptCacheTtl.FiveMinutes
                    ? $"{what} ({candidate.Path}): a 5m breakpoint there would come before the caller's 1h breakpoint at {conflict.Path} (1h breakpoints must come first)"
                    : $"{what} ({candidate.Path}): a 1h breakpoint there would come after the caller's 5m breakpoint at {conflict.Path} (1h breakpoints must come first)");
                continue;
            }

            eligible.Add(candidate);
        }

        var free = Math.Max(0, _options.MaxBreakpoints - existing.Count);
        if (eligible.Count > free)
        {
            // Keep the longest prefixes: the last breakpoint covers the most, the earlier ones only add fallbacks.
            var dropped = eligible.Count - free;
            foreach (var slot in eligible.Take(dropped))
            {
                skipped.Add($"{slot.Path}: the cap of {_options.MaxBreakpoints} breakpoints is reached "
                    + $"({existing.Count} set by the caller); longer prefixes were preferred");
            }

            eligible.RemoveRange(0, dropped);
        }

        var added = new List<CacheBreakpoint>(eligible.Count);
        foreach (var slot in eligible)
        {
            slot.Mark(ttl, edits);
            added.Add(slot.ToBreakpoint(ttl, setByCaller: false));
        }

        return Result(added);
    }

    private IEnumerable<(Slot Slot, string What)> Candidates(Scan scan, List<string> skipped)
    {
        if (_options.CacheTools && scan.Slots.LastOrDefault(s => s.Location == CacheBreakpointLocation.Tools) is { } tool)
        {
            yield return (tool, "last tool");
        }

        if (_options.CacheSystem && scan.Slots.LastOrDefault(s => s.Location == CacheBreakpointLocation.System) is { } system)
        {
            yield return (system, "last system block");
        }

        if (!_options.CacheConversation)
        {
            yield break;
        }

        if (scan.UserTurns.Count < 2)
        {
            yield break;
        }

        var turn = scan.UserTurns[^2];
        var last = scan.Slots.LastOrDefault(s => s.MessageIndex == turn);
        if (last is null)
        {
            skipped.Add($"messages[{turn}] (second-to-last user turn) has no content block to mark");
            yield break;
        }

        yield return (last, "second-to-last user turn");
    }

    private static Scan ScanRequest(JsonObject root)
    {
        var scan = new Scan();
        long total = 0;

        if (root["tools"] is { } toolsNode)
        {
            var tools = toolsNode as JsonArray ?? throw Malformed("tools", "an array", toolsNode);
            for (var i = 0; i < tools.Count; i++)
            {
                var path = $"tools[{i}]";
                var tool = tools[i] as JsonObject ?? throw Malformed(path, "an object", tools[i]);
                total += EstimateJson(tool);
                scan.Add(new Slot(CacheBreakpointLocation.Tools, path, $"tools/{i}", total, ReadTtl(tool, path)) { Object = tool });
            }
        }

        switch (root["system"])
        {
            case null:
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                var text = value.GetValue<string>();
                total += TokenEstimator.Estimate(text);
                scan.Add(new Slot(CacheBreakpointLocation.System, "system[0]", "system", total, existingTtl: null)
                {
                    StringOwner = root,
                    StringProperty = "system",
                    StringText = text,
                    CanCarryBreakpoint = !string.IsNullOrWhiteSpace(text),
                });
                break;
            case JsonArray blocks:
                ScanBlocks(scan, blocks, CacheBreakpointLocation.System, "system", "system", messageIndex: -1, ref total);
                break;
            case var other:
                throw Malformed("system", "a string or an array of blocks", other);
        }

        var messagesNode = root["messages"] ?? throw new CachePlanningException("The request has no 'messages' array.");
        var messages = messagesNode as JsonArray ?? throw Malformed("messages", "an array", messagesNode);
        for (var m = 0; m < messages.Count; m++)
        {
            var path = $"messages[{m}]";
            var message = messages[m] as JsonObject ?? throw Malformed(path, "an object", messages[m]);
            if (message["role"] is JsonValue role && role.GetValueKind() == JsonValueKind.String && role.GetValue<string>() == "user")
            {
                scan.UserTurns.Add(m);
            }

            switch (message["content"])
            {
                case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                    var text = value.GetValue<string>();
                    total += TokenEstimator.Estimate(text);
                    scan.Add(new Slot(CacheBreakpointLocation.Messages, $"{path}.content[0]", $"messages/{m}/content", total, existingTtl: null)
                    {
                        MessageIndex = m,
                        StringOwner = message,
                        StringProperty = "content",
                        StringText = text,
                        CanCarryBreakpoint = !string.IsNullOrWhiteSpace(text),
                    });
                    break;
                case JsonArray blocks:
                    ScanBlocks(scan, blocks, CacheBreakpointLocation.Messages, $"{path}.content", $"messages/{m}/content", m, ref total);
                    break;
                case var other:
                    throw Malformed($"{path}.content", "a string or an array of blocks", other);
            }
        }

        return scan;
    }

    private static void ScanBlocks(
        Scan scan, JsonArray blocks, CacheBreakpointLocation location, string path, string editPath, int messageIndex, ref long total)
    {
        for (var i = 0; i < blocks.Count; i++)
        {
            var blockPath = $"{path}[{i}]";
            var block = blocks[i] as JsonObject ?? throw Malformed(blockPath, "an object", blocks[i]);
            total += EstimateBlock(block);
            var type = StringOf(block["type"]);
            scan.Add(new Slot(location, blockPath, $"{editPath}/{i}", total, ReadTtl(block, blockPath))
            {
                Object = block,
                MessageIndex = messageIndex,
                CanCarryBreakpoint = type is not ("thinking" or "redacted_thinking")
                    && !(type == "text" && string.IsNullOrEmpty(StringOf(block["text"]))),
            });

            if (type == "tool_result" && block["content"] is JsonArray nested)
            {
                for (var j = 0; j < nested.Count; j++)
                {
                    var nestedPath = $"{blockPath}.content[{j}]";
                    if (nested[j] is JsonObject inner && ReadTtl(inner, nestedPath) is { } ttl)
                    {
                        scan.Nested.Add(new CacheBreakpoint(location, nestedPath, ttl, total, SetByCaller: true));
                    }
                }
            }
        }
    }

    private static long EstimateBlock(JsonObject block) => StringOf(block["type"]) switch
    {
        "text" => TokenEstimator.Estimate(StringOf(block["text"])),
        "image" => MediaBlockTokens,
        "document" when block["source"] is JsonObject source && StringOf(source["type"]) == "text"
            => TokenEstimator.Estimate(StringOf(source["data"])),
        "document" => MediaBlockTokens,
        "tool_result" => block["content"] switch
        {
            JsonArray inner => inner.OfType<JsonObject>().Sum(EstimateBlock),
            var other => TokenEstimator.Estimate(StringOf(other)),
        },
        _ => EstimateJson(block),
    };

    /// <summary>Estimates an object from its compact JSON, leaving out <c>cache_control</c> so that planning is stable.</summary>
    private static long EstimateJson(JsonObject obj)
    {
        long bytes = 2;
        foreach (var (name, value) in obj)
        {
            if (name != CacheControl)
            {
                bytes += System.Text.Encoding.UTF8.GetByteCount(name) + 4 + (value is null ? 4 : System.Text.Encoding.UTF8.GetByteCount(value.ToJsonString()));
            }
        }

        return (bytes + TokenEstimator.Utf8BytesPerToken - 1) / TokenEstimator.Utf8BytesPerToken;
    }

    private static PromptCacheTtl? ReadTtl(JsonObject owner, string path)
    {
        if (!owner.TryGetPropertyValue(CacheControl, out var node) || node is null)
        {
            return null;
        }

        var control = node as JsonObject ?? throw Malformed($"{path}.cache_control", "an object", node);
        return control["ttl"] switch
        {
            null => PromptCacheTtl.FiveMinutes,
            var ttl when StringOf(ttl) == "5m" => PromptCacheTtl.FiveMinutes,
            var ttl when StringOf(ttl) == "1h" => PromptCacheTtl.OneHour,
            var ttl => throw Malformed($"{path}.cache_control.ttl", "\"5m\" or \"1h\"", ttl),
        };
    }

    private static string? StringOf(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    private static CachePlanningException Malformed(string path, string expected, JsonNode? actual) =>
        new($"'{path}' must be {expected}, not {(actual is null ? "null" : actual.GetValueKind().ToString())}.");

    internal static JsonObject NewCacheControl(PromptCacheTtl ttl) => ttl == PromptCacheTtl.OneHour
        ? new JsonObject { ["type"] = "ephemeral", ["ttl"] = "1h" }
        : new JsonObject { ["type"] = "ephemeral" };

    private sealed class Scan
    {
        public List<Slot> Slots { get; } = [];

        public List<CacheBreakpoint> Nested { get; } = [];

        public List<int> UserTurns { get; } = [];

        public void Add(Slot slot)
        {
            slot.Order = Slots.Count;
            Slots.Add(slot);
        }
    }

    /// <summary>One block of the prompt in prefix order, with the prefix it closes.</summary>
    private sealed class Slot(CacheBreakpointLocation location, string path, string editPath, long prefixTokens, PromptCacheTtl? existingTtl)
    {
        public CacheBreakpointLocation Location { get; } = location;

        public string Path { get; } = path;

        public long PrefixTokens { get; } = prefixTokens;

        public PromptCacheTtl? ExistingTtl { get; } = existingTtl;

        public int Order { get; set; }

        public int MessageIndex { get; init; } = -1;

        public JsonObject? Object { get; init; }

        public JsonObject? StringOwner { get; init; }

        public string? StringProperty { get; init; }

        public string? StringText { get; init; }

        /// <summary>The slash-separated path the byte splicer looks for, e.g. <c>messages/3/content/0</c>.</summary>
        public string EditPath { get; } = editPath;

        public bool CanCarryBreakpoint { get; init; } = true;

        public CacheBreakpoint ToBreakpoint(PromptCacheTtl ttl, bool setByCaller) =>
            new(Location, Path, ttl, PrefixTokens, setByCaller);

        public void Mark(PromptCacheTtl ttl, List<Edit>? edits)
        {
            if (Object is not null)
            {
                Object[CacheControl] = NewCacheControl(ttl);
                edits?.Add(new Edit(EditPath, IsString: false, ttl));
                return;
            }

            StringOwner![StringProperty!] = new JsonArray(new JsonObject
            {
                ["type"] = "text",
                ["text"] = StringText,
                [CacheControl] = NewCacheControl(ttl),
            });
            edits?.Add(new Edit(EditPath, IsString: true, ttl));
        }
    }
}
