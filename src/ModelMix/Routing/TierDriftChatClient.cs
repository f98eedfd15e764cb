using Microsoft.Extensions.AI;
using ModelMix.Routing;

namespace ModelMix.Pipeline;

/// <summary>
/// Reports the model of each call to a <see cref="TierDriftMonitor"/>, which alerts when a tier's share of calls drifts
/// past its bound. Place it below the routing stage so it sees the routed model (and each attempt of a fallback).
/// </summary>
public sealed class TierDriftChatClient : DelegatingChatClient
{
    private readonly TierDriftMonitor _monitor;
    private string? _defaultModel;

    /// <summary>Creates the stage over <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The client whose calls are observed.</param>
    /// <param name="monitor">The monitor told about each call.</param>
    public TierDriftChatClient(IChatClient innerClient, TierDriftMonitor monitor)
        : base(innerClient)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        _monitor = monitor;
    }

    /// <inheritdoc />
    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Observe(options);
        return base.GetResponseAsync(messages, options, cancellationToken);
    }

    /// <inheritdoc />
    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        Observe(options);
        return base.GetStreamingResponseAsync(messages, options, cancellationToken);
    }

    /// <inheritdoc />
    public override object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType == typeof(TierDriftMonitor) ? _monitor : base.GetService(serviceType, serviceKey);
    }

    private void Observe(ChatOptions? options)
    {
        var model = options?.ModelId is { Length: > 0 } modelId
            ? modelId
            : _defaultModel ??= InnerClient.GetService<ChatClientMetadata>()?.DefaultModelId;
        if (model is not null)
        {
            _monitor.Observe(model);
        }
    }
}
