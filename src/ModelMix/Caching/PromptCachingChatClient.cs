using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Anthropic.Models.Messages;
using Microsoft.Extensions.AI;
using ModelMix.Caching;
using ModelMix.Pricing;

namespace ModelMix.Pipeline;

/// <summary>
/// The prompt-caching stage of the library door: before each call it places <c>cache_control</c> breakpoints on the
/// stable prefix (last tool, last system block, last block of the second-to-last user turn) for the call's model, with
/// the same rules as the proxy (<see cref="CacheBreakpointPlanner"/>: per-model minimum, at most 4, the caller's kept).
/// It marks copies, never the caller's messages or tools, in the form the Anthropic SDK's <c>AsIChatClient</c> sends:
/// <c>AIContent.WithCacheControl</c> and a tool's <c>AdditionalProperties["CacheControl"]</c>. Compose it below
/// routing and fallback, so the routed model's minimum applies. After the call, a request that carried breakpoints but
/// whose usage shows no cache write or read counts as an unexpected miss (<see cref="PromptCacheMissMonitor"/>).
/// </summary>
public sealed class PromptCachingChatClient : DelegatingChatClient
{
    private const string ToolCacheControlKey = "CacheControl";

    private readonly CacheBreakpointPlanner _planner;
    private readonly CacheBreakpointPlanner _batchPlanner;
    private readonly PromptCacheMissMonitor? _misses;
    private readonly string? _defaultModel;

    /// <summary>Creates the stage over <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client that sends the call (the SDK's <c>AsIChatClient</c>, possibly under a ledger stage).</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <param name="misses">Counts and logs unexpected misses; none when null.</param>
    public PromptCachingChatClient(IChatClient innerClient, PromptCachingChatClientOptions? options = null, PromptCacheMissMonitor? misses = null)
        : base(innerClient)
    {
        options ??= new PromptCachingChatClientOptions();
        var prices = options.PriceBook ?? PriceBook.Default;
        _planner = new CacheBreakpointPlanner(prices, options.Caching);
        _batchPlanner = new CacheBreakpointPlanner(prices, new PromptCachingOptions
        {
            Ttl = options.BatchTtl,
            MaxBreakpoints = options.Caching.MaxBreakpoints,
            CacheTools = options.Caching.CacheTools,
            CacheSystem = options.Caching.CacheSystem,
            CacheConversation = options.Caching.CacheConversation,
        });
        _misses = misses;
        _defaultModel = innerClient.GetService<ChatClientMetadata>()?.DefaultModelId;
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var prepared = Prepare(messages, options);
        var response = await base.GetResponseAsync(prepared.Messages, prepared.Options, cancellationToken).ConfigureAwait(false);
        Check(prepared, response.Usage, response.ModelId);
        return response;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var prepared = Prepare(messages, options);
        UsageDetails? usage = null;
        string? model = null;
        await foreach (var update in base.GetStreamingResponseAsync(prepared.Messages, prepared.Options, cancellationToken).ConfigureAwait(false))
        {
            model ??= update.ModelId;
            foreach (var content in update.Contents)
            {
                if (content is UsageContent u)
                {
                    usage = u.Details;
                }
            }

            yield return update;
        }

        Check(prepared, usage, model);
    }

    /// <summary>The messages and options to send for <paramref name="options"/>' model: copies with breakpoints, or the originals.</summary>
    internal Prepared Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = messages as IList<ChatMessage> ?? messages.ToList();
        var model = options?.ModelId ?? _defaultModel;
        if (model is null)
        {
            return new Prepared(list, options, null, null);
        }

        var mirror = new JsonObject();
        var targets = new Dictionary<string, (int Message, int Content)>(StringComparer.Ordinal);
        var toolTargets = new Dictionary<string, int>(StringComparer.Ordinal);
        if (options?.Tools is { Count: > 0 } tools)
        {
            var array = new JsonArray();
            for (var i = 0; i < tools.Count; i++)
            {
                var tool = new JsonObject { ["name"] = tools[i].Name, ["description"] = tools[i].Description };
                if (tools[i] is AIFunctionDeclaration function)
                {
                    tool["input_schema"] = JsonNode.Parse(function.JsonSchema.GetRawText());
                    toolTargets[$"tools[{i}]"] = i;
                }

                if (tools[i].AdditionalProperties.TryGetValue(ToolCacheControlKey, out var existing) && existing is CacheControlEphemeral control)
                {
                    tool["cache_control"] = ControlJson(control);
                }

                array.Add((JsonNode)tool);
            }

            mirror["tools"] = array;
        }

        var system = new JsonArray();
        var conversation = new JsonArray();
        for (var m = 0; m < list.Count; m++)
        {
            var message = list[m];
            if (message.Role == ChatRole.System)
            {
                for (var c = 0; c < message.Contents.Count; c++)
                {
                    if (message.Contents[c] is TextContent text)
                    {
                        targets[$"system[{system.Count}]"] = (m, c);
                        system.Add((JsonNode)Block(text, new JsonObject { ["type"] = "text", ["text"] = text.Text }));
                    }
                }

                continue;
            }

            var blocks = new JsonArray();
            var index = conversation.Count;
            for (var c = 0; c < message.Contents.Count; c++)
            {
                if (ToBlock(message.Contents[c]) is { } block)
                {
                    targets[$"messages[{index}].content[{blocks.Count}]"] = (m, c);
                    blocks.Add((JsonNode)Block(message.Contents[c], block));
                }
            }

            conversation.Add((JsonNode)new JsonObject { ["role"] = message.Role == ChatRole.Assistant ? "assistant" : "user", ["content"] = blocks });
        }

        if (system.Count > 0)
        {
            mirror["system"] = system;
        }

        mirror["messages"] = conversation;
        var planner = options.GetBatch() ? _batchPlanner : _planner;
        CacheBreakpointPlan plan;
        try
        {
            plan = planner.Apply(mirror, model);
        }
        catch (CachePlanningException)
        {
            return new Prepared(list, options, null, model);
        }

        if (!plan.Changed)
        {
            return new Prepared(list, options, plan, model, Hash(mirror, model));
        }

        var copy = new List<ChatMessage>(list);
        var newOptions = options;
        foreach (var added in plan.Added)
        {
            var control = new CacheControlEphemeral { Ttl = added.Ttl == PromptCacheTtl.OneHour ? Ttl.Ttl1h : Ttl.Ttl5m };
            if (toolTargets.TryGetValue(added.Path, out var t) && options!.Tools![t] is AIFunction function)
            {
                newOptions ??= options;
                if (ReferenceEquals(newOptions, options))
                {
                    newOptions = options.Clone();
                    newOptions.Tools = [.. options.Tools];
                }

                newOptions.Tools![t] = new CacheControlledFunction(function, control);
            }
            else if (targets.TryGetValue(added.Path, out var target))
            {
                var original = copy[target.Message];
                var message = ReferenceEquals(original, list[target.Message]) ? original.Clone() : original;
                if (ReferenceEquals(message.Contents, original.Contents) || ReferenceEquals(original, list[target.Message]))
                {
                    message.Contents = [.. original.Contents];
                }

                message.Contents[target.Content] = CloneContent(message.Contents[target.Content]).WithCacheControl(control);
                copy[target.Message] = message;
            }
        }

        return new Prepared(copy, newOptions, plan, model, Hash(mirror, model));
    }

    private void Check(Prepared prepared, UsageDetails? usage, string? responseModel)
    {
        if (_misses is null || prepared.Plan is not { } plan || usage is null || plan.Existing.Count + plan.Added.Count == 0)
        {
            return;
        }

        var written = usage.AdditionalCounts is { } counts && counts.TryGetValue("CacheCreationInputTokens", out var w) ? w : 0;
        var read = usage.CachedInputTokenCount ?? 0;
        var input = (usage.InputTokenCount ?? 0) - written - read;
        _misses.Observe(true, prepared.PrefixHash, responseModel ?? prepared.Model!, new TokenUsage(input, usage.OutputTokenCount ?? 0, written, 0, read));
    }

    private static JsonObject Block(AIContent content, JsonObject block)
    {
        if (CallerControl(content) is { } control)
        {
            block["cache_control"] = ControlJson(control);
        }

        return block;
    }

    /// <summary>The caller's breakpoint on <paramref name="content"/>: <c>WithCacheControl</c> keeps it in <c>AdditionalProperties</c>.</summary>
    private static CacheControlEphemeral? CallerControl(AIContent content) =>
        content.AdditionalProperties?.Values.OfType<CacheControlEphemeral>().FirstOrDefault();

    private static JsonObject ControlJson(CacheControlEphemeral control) =>
        control.Ttl is { } ttl && ttl.Raw().ToString() == "1h"
            ? new JsonObject { ["type"] = "ephemeral", ["ttl"] = "1h" }
            : new JsonObject { ["type"] = "ephemeral" };

    private static JsonObject? ToBlock(AIContent content) => content switch
    {
        TextContent text => new JsonObject { ["type"] = "text", ["text"] = text.Text },
        TextReasoningContent reasoning => new JsonObject { ["type"] = "thinking", ["thinking"] = reasoning.Text },
        FunctionCallContent call => new JsonObject
        {
            ["type"] = "tool_use",
            ["id"] = call.CallId,
            ["name"] = call.Name,
            ["input"] = JsonSerializer.SerializeToNode(call.Arguments, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(IDictionary<string, object?>))),
        },
        FunctionResultContent result => new JsonObject
        {
            ["type"] = "tool_result",
            ["tool_use_id"] = result.CallId,
            ["content"] = result.Result as string ?? JsonSerializer.Serialize(result.Result, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(object))),
        },
        DataContent data when data.HasTopLevelMediaType("image") => new JsonObject { ["type"] = "image" },
        DataContent or UriContent or HostedFileContent => new JsonObject { ["type"] = "document" },
        UsageContent => null,
        _ => new JsonObject { ["type"] = "thinking" }, // an unknown block: never marked
    };

    private static AIContent CloneContent(AIContent content)
    {
        var clone = content switch
        {
            TextContent text => new TextContent(text.Text) { Annotations = text.Annotations },
            FunctionResultContent result => new FunctionResultContent(result.CallId, result.Result) { Exception = result.Exception },
            FunctionCallContent call => new FunctionCallContent(call.CallId, call.Name, call.Arguments),
            DataContent data => new DataContent(data.Data, data.MediaType) { Name = data.Name },
            UriContent uri => new UriContent(uri.Uri, uri.MediaType),
            _ => (AIContent)JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(content, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(AIContent))), AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(AIContent)))!,
        };
        clone.RawRepresentation = content.RawRepresentation;
        clone.AdditionalProperties = content.AdditionalProperties is null ? null : new AdditionalPropertiesDictionary(content.AdditionalProperties);
        return clone;
    }

    private static ulong Hash(JsonObject mirror, string model)
    {
        var prefix = (mirror["tools"]?.ToJsonString() ?? string.Empty) + (mirror["system"]?.ToJsonString() ?? string.Empty) + model;
        return PromptCacheMissMonitor.Hash(Encoding.UTF8.GetBytes(prefix));
    }

    /// <summary>What one call sends: its messages and options (marked copies when breakpoints were added) and the plan.</summary>
    internal sealed record Prepared(IList<ChatMessage> Messages, ChatOptions? Options, CacheBreakpointPlan? Plan, string? Model, ulong PrefixHash = 0);

    /// <summary>A tool whose definition carries a cache breakpoint, as the SDK reads it from <c>AdditionalProperties</c>.</summary>
    private sealed class CacheControlledFunction(AIFunction inner, CacheControlEphemeral control) : DelegatingAIFunction(inner)
    {
        private readonly IReadOnlyDictionary<string, object?> _properties =
            new Dictionary<string, object?>(inner.AdditionalProperties) { [ToolCacheControlKey] = control };

        public override IReadOnlyDictionary<string, object?> AdditionalProperties => _properties;
    }
}
