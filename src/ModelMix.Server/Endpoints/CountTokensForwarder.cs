using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ModelMix.Server;

/// <summary>
/// <c>POST /v1/messages/count_tokens</c>: passed through to the upstream (a routing alias is first resolved to the
/// model it would route to, so the count is the routed model's). Counting is free, so nothing is recorded.
/// </summary>
internal sealed class CountTokensForwarder(IHttpClientFactory clients, IOptions<ProxyOptions> options, ProxyRouter router, AuthGate auth, ProxyRequestReader reader)
{
    public async Task HandleAsync(HttpContext context)
    {
        var settings = options.Value;
        var requestId = ProxyRequestId.New();
        context.Response.Headers[ProxyRequestId.HeaderName] = requestId;
        if (await auth.AuthenticateAsync(context, requestId, AnthropicDialect.Instance) is null)
        {
            return;
        }

        // The same reader as /v1/messages: ModelMix:MaxRequestBodyBytes is enforced while reading (413), not after
        // buffering whatever the client sent.
        if (await reader.ReadBodyAsync(context, AnthropicDialect.Instance) is not { } body)
        {
            return;
        }

        string? model;
        try
        {
            using var document = JsonDocument.Parse(body);
            model = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("model", out var element) && element.ValueKind == JsonValueKind.String
                ? element.GetString()
                : null;
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string with an unpaired UTF-16 surrogate escape parses but cannot be read.
            await AnthropicError.WriteAsync(context, 400, $"The request body is not valid JSON: {exception.Message}");
            return;
        }

        if (model is null)
        {
            await AnthropicError.WriteAsync(context, 400, "model: Field required");
            return;
        }

        if (router.CatalogName(model) is var catalogName && !string.Equals(catalogName, model, StringComparison.Ordinal))
        {
            body = RequestBodyRewriter.ReplaceModel(body, catalogName); // the catalog's spelling upstream, as on /v1/messages
            model = catalogName;
        }

        if (router.IsAlias(model, out var policy))
        {
            string? error = null;
            if (AddMaxTokens(body, ref error) is not { } readable || !MessagesRequest.TryParse(readable, out var request, out error))
            {
                await AnthropicError.WriteAsync(context, 400, error!);
                return;
            }

            var features = request!.Features with { TaskLabel = context.Request.Headers["x-modelmix-task"].ToString() is { Length: > 0 } task ? task : null };
            var decision = router.Fit.Fit(await ProxyRouter.DecideAsync(policy!, features, context.RequestAborted), features); // the model the messages call would use
            body = RequestBodyRewriter.ReplaceModel(body, decision.Model);
            context.Response.Headers["x-modelmix-routed-model"] = decision.Model;
        }

        using var upstream = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(settings.Upstream, "v1/messages/count_tokens").OriginalString + ProxyRequestReader.QueryOf(context))) { Content = new ByteArrayContent(body) };
        upstream.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        upstream.Headers.TryAddWithoutValidation("anthropic-version", context.Request.Headers["anthropic-version"].ToString() is { Length: > 0 } version ? version : settings.DefaultAnthropicVersion);
        if (context.Request.Headers["anthropic-beta"].ToString() is { Length: > 0 } beta)
        {
            upstream.Headers.TryAddWithoutValidation("anthropic-beta", beta);
        }

        if (settings.UpstreamApiKey is { Length: > 0 } key)
        {
            upstream.Headers.TryAddWithoutValidation("x-api-key", key);
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(settings.UpstreamTimeout);
            using var response = await clients.CreateClient(UpstreamSender.HttpClientName).SendAsync(upstream, timeout.Token);
            context.Response.StatusCode = (int)response.StatusCode;
            context.Response.ContentType = response.Content.Headers.ContentType?.ToString() ?? "application/json";
            if (response.Headers.TryGetValues("request-id", out var ids))
            {
                context.Response.Headers["request-id"] = ids.First();
            }

            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
        catch (HttpRequestException exception)
        {
            await AnthropicError.WriteAsync(context, 502, $"ModelMix could not reach the upstream API: {exception.Message}", "api_error");
        }
        catch (OperationCanceledException) when (!context.RequestAborted.IsCancellationRequested)
        {
            await AnthropicError.WriteAsync(context, 504, $"The upstream API did not answer within {settings.UpstreamTimeout}.", "api_error");
        }
    }

    /// <summary>
    /// count_tokens has no max_tokens; routing features need one, so a placeholder is added for reading them. A body
    /// JsonNode cannot hold (duplicate keys, unreadable strings) gives null and the reason in <paramref name="error"/>.
    /// </summary>
    private static byte[]? AddMaxTokens(byte[] body, ref string? error)
    {
        try
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(body)!.AsObject();
            node["max_tokens"] ??= 1;
            node["messages"] ??= new System.Text.Json.Nodes.JsonArray();
            return JsonSerializer.SerializeToUtf8Bytes(node);
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or ArgumentException)
        {
            error = $"The request body could not be read: {exception.Message}";
            return null;
        }
    }
}
