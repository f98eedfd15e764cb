namespace ModelMix.IntegrationTests.FakeAnthropicTests;

/// <summary>Handler in the SDK's pipeline that keeps the last HTTP response, so tests can read its headers.</summary>
internal sealed class ResponseCapture : DelegatingHandler
{
    private HttpResponseMessage? _last;

    public HttpResponseMessage Last => Volatile.Read(ref _last) ?? throw new InvalidOperationException("No response yet.");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        Volatile.Write(ref _last, response);
        return response;
    }
}
