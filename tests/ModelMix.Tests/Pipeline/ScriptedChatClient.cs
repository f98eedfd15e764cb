using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace ModelMix.Tests.Pipeline;

/// <summary>
/// A hand-made inner client that is not Anthropic's: it answers with a scripted response or a scripted stream, and
/// reports <see cref="ChatClientMetadata"/> with a default model.
/// </summary>
internal sealed class ScriptedChatClient(string? defaultModel = "gpt-test") : IChatClient
{
    public Func<ChatOptions?, CancellationToken, Task<ChatResponse>> Respond { get; set; } =
        (_, _) => Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));

    /// <summary>The updates streamed; a null entry throws <see cref="StreamFault"/> at that point.</summary>
    public List<ChatResponseUpdate?> Stream { get; } = [];

    public Exception StreamFault { get; set; } = new IOException("connection reset");

    public ChatOptions? LastOptions { get; private set; }

    public bool StreamDisposed { get; private set; }

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        LastOptions = options;
        return Respond(options, cancellationToken);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        LastOptions = options;
        try
        {
            foreach (var update in Stream)
            {
                await Task.Yield();
                cancellationToken.ThrowIfCancellationRequested();
                yield return update ?? throw StreamFault;
            }
        }
        finally
        {
            StreamDisposed = true;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("scripted", defaultModelId: defaultModel)
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public void Dispose()
    {
    }
}
