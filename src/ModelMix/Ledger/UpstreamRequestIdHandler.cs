namespace ModelMix.Pipeline;

/// <summary>
/// An HTTP handler that makes the upstream's <c>request-id</c> response header visible to <see cref="LedgerChatClient"/>,
/// so the library door's records carry <see cref="Ledger.LedgerRecord.UpstreamRequestId"/> on answered calls too, as
/// the proxy's do. The Anthropic SDK's <c>AsIChatClient</c> exposes the response body (<c>Message</c>, stream events)
/// as <c>RawRepresentation</c> but no response header; only an error's exception carries the id. Every API response
/// has the header (https://platform.claude.com/docs/en/api/errors, "Request id"), and it is what Anthropic's support
/// and usage records name a call by.
/// </summary>
/// <remarks>
/// Add one instance per <c>AnthropicClient</c>, next to a <see cref="FallbackRetryAfterHandler"/> if you use one:
/// <c>new AnthropicClient(new ClientOptions { Handlers = [new UpstreamRequestIdHandler()], MaxRetries = 0 })</c>.
/// The handler only reads a header; it never changes a request or response. Outside a ledger stage's attempt it does
/// nothing. With the SDK's own retries on, the id recorded is the last response's (the one that answered).
/// </remarks>
public sealed class UpstreamRequestIdHandler : DelegatingHandler
{
    private static readonly AsyncLocal<Slot?> s_current = new();
    private static volatile bool s_inUse;

    /// <summary>Creates the handler.</summary>
    public UpstreamRequestIdHandler() => s_inUse = true;

    /// <summary>
    /// A new slot made current for the attempt about to run on this async flow, or null (and nothing set) when no
    /// handler was ever created in this process, so a ledger stage without one pays nothing for it.
    /// </summary>
    internal static Slot? Open()
    {
        if (!s_inUse)
        {
            return null;
        }

        var slot = new Slot();
        s_current.Value = slot;
        return slot;
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (s_current.Value is { } slot && response.Headers.TryGetValues("request-id", out var values))
        {
            foreach (var value in values)
            {
                if (!string.IsNullOrEmpty(value))
                {
                    slot.RequestId = value;
                    break;
                }
            }
        }

        return response;
    }

    /// <summary>Where the handler leaves the <c>request-id</c> of the attempt in progress.</summary>
    internal sealed class Slot
    {
        private volatile string? _requestId;

        /// <summary>The last <c>request-id</c> seen for the attempt, or null.</summary>
        public string? RequestId
        {
            get => _requestId;
            set => _requestId = value;
        }
    }
}
