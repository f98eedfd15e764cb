using System.Net;
using Anthropic.Exceptions;
using Microsoft.Extensions.AI;

namespace ModelMix.Tests.Fallback;

/// <summary>Fails its first call with a 529, then answers "ok"; notes each call's model.</summary>
internal sealed class FailsOnceClient : IChatClient
{
    public List<string?> Models { get; } = [];

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Models.Add(options?.ModelId);
        return Models.Count == 1
            ? Task.FromException<ChatResponse>(new Anthropic5xxException(new HttpRequestException("529", null, (HttpStatusCode)529)) { StatusCode = (HttpStatusCode)529, ResponseBody = "{}" })
            : Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "ok")));
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
