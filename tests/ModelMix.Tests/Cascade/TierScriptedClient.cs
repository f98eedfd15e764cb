using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace ModelMix.Tests.Cascade;

/// <summary>
/// A test-local inner client that answers each call with the next scripted text (as the model it was asked for), with
/// usage, and remembers every call's messages and options.
/// </summary>
internal sealed class TierScriptedClient : IChatClient
{
    private readonly Queue<string> _answers = new();

    public List<(IReadOnlyList<ChatMessage> Messages, ChatOptions? Options)> Calls { get; } = [];

    /// <summary>Thrown by the call with this 1-based number, instead of answering.</summary>
    public (int Call, Exception Exception)? Throw { get; set; }

    public TierScriptedClient Answer(params string[] texts)
    {
        foreach (var text in texts)
        {
            _answers.Enqueue(text);
        }

        return this;
    }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Calls.Add(([.. messages], options));
        if (Throw is { } fault && fault.Call == Calls.Count)
        {
            throw fault.Exception;
        }

        var text = _answers.Count > 0 ? _answers.Dequeue() : throw new InvalidOperationException("No scripted answer left.");
        return Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = options?.ModelId,
            Usage = new UsageDetails { InputTokenCount = 100, OutputTokenCount = 10 },
        });
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = await GetResponseAsync(messages, options, cancellationToken);
        foreach (var word in response.Text.Split(' '))
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, word + " ") { ModelId = response.ModelId };
        }

        yield return new ChatResponseUpdate { Contents = [new UsageContent(response.Usage!)], ModelId = response.ModelId };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
