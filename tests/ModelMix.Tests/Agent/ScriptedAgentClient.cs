using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace ModelMix.Tests.Agent;

/// <summary>
/// A hand-made model client for agent tests: answers each call with the next scripted response (the last one repeats)
/// and keeps every call's messages and options. With no script it answers "ok".
/// </summary>
internal sealed class ScriptedAgentClient(params Func<ChatResponse>[] script) : IChatClient
{
    private readonly Lock _lock = new();
    private readonly List<(List<ChatMessage> Messages, ChatOptions? Options)> _calls = [];

    public IReadOnlyList<(List<ChatMessage> Messages, ChatOptions? Options)> Calls
    {
        get
        {
            lock (_lock)
            {
                return _calls.ToList();
            }
        }
    }

    /// <summary>A response asking for <paramref name="name"/> with <paramref name="arguments"/>, priced as Haiku by default.</summary>
    public static ChatResponse ToolCall(string name, IDictionary<string, object?> arguments, string callId = "call-1", string model = "claude-haiku-4-5", long input = 1000, long output = 100) =>
        new(new ChatMessage(ChatRole.Assistant, [new FunctionCallContent(callId, name, arguments)]))
        {
            ModelId = model,
            FinishReason = ChatFinishReason.ToolCalls,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output },
        };

    /// <summary>A text answer.</summary>
    public static ChatResponse Text(string text, string model = "claude-haiku-4-5", long input = 1000, long output = 100) =>
        new(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = model,
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output },
        };

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        int index;
        lock (_lock)
        {
            _calls.Add((messages.ToList(), options));
            index = _calls.Count - 1;
        }

        return Task.FromResult(script.Length == 0 ? Text("ok") : script[Math.Min(index, script.Length - 1)]());
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = await GetResponseAsync(messages, options, cancellationToken);
        foreach (var update in response.ToChatResponseUpdates())
        {
            await Task.Yield();
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("scripted", defaultModelId: "claude-haiku-4-5")
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }
}
