using System.Net.Http.Headers;
using System.Text.Json;

namespace ModelMix.Batching;

/// <summary>
/// The Message Batches API over raw HTTP (<c>/v1/messages/batches</c>), so each request's params go upstream byte for
/// byte as the caller sent them (no round-trip through SDK types that would drop fields they do not know).
/// </summary>
public sealed class MessageBatchesClient
{
    private readonly HttpClient _http;
    private readonly Uri _base;
    private readonly string? _apiKey;
    private readonly string _version;

    /// <summary>Creates a client for <paramref name="upstream"/> (e.g. <c>https://api.anthropic.com</c>) with the upstream key.</summary>
    public MessageBatchesClient(HttpClient http, Uri upstream, string? apiKey, string anthropicVersion = "2023-06-01")
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(upstream);
        _http = http;
        _base = new Uri(upstream.ToString().TrimEnd('/') + "/");
        _apiKey = apiKey;
        _version = anthropicVersion;
    }

    /// <summary>Creates a batch from <c>{"requests":[{"custom_id", "params"}…]}</c>; returns the batch object, or throws <see cref="MessageBatchesException"/> on an error answer.</summary>
    public async Task<JsonElement> CreateAsync(IReadOnlyList<BatchItem> items, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(items);
        using var body = new MemoryStream();
        body.Write("{\"requests\":["u8);
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0)
            {
                body.WriteByte((byte)',');
            }

            body.Write("{\"custom_id\":"u8);
            body.Write(JsonSerializer.SerializeToUtf8Bytes(items[i].Id));
            body.Write(",\"params\":"u8);
            body.Write(items[i].Params);
            body.WriteByte((byte)'}');
        }

        body.Write("]}"u8);
        using var request = Request(HttpMethod.Post, "v1/messages/batches");
        request.Content = new ByteArrayContent(body.GetBuffer(), 0, (int)body.Length);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return await SendJsonAsync(request, cancellationToken);
    }

    /// <summary>Retrieves a batch object.</summary>
    public async Task<JsonElement> RetrieveAsync(string batchId, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, "v1/messages/batches/" + Uri.EscapeDataString(batchId));
        return await SendJsonAsync(request, cancellationToken);
    }

    /// <summary>Starts canceling a batch (<c>POST /v1/messages/batches/{id}/cancel</c>); the batch object.</summary>
    public async Task<JsonElement> CancelAsync(string batchId, CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Post, "v1/messages/batches/" + Uri.EscapeDataString(batchId) + "/cancel");
        return await SendJsonAsync(request, cancellationToken);
    }

    /// <summary>One page of the batch list, newest first.</summary>
    public async Task<JsonElement> ListAsync(string? afterId, int limit, CancellationToken cancellationToken)
    {
        var path = "v1/messages/batches?limit=" + limit.ToString(System.Globalization.CultureInfo.InvariantCulture)
            + (afterId is null ? string.Empty : "&after_id=" + Uri.EscapeDataString(afterId));
        using var request = Request(HttpMethod.Get, path);
        return await SendJsonAsync(request, cancellationToken);
    }

    /// <summary>Streams the results JSONL of an ended batch: (custom_id, result type, raw result object).</summary>
    public async IAsyncEnumerable<(string CustomId, string Type, string Result)> ResultsAsync(string batchId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, "v1/messages/batches/" + Uri.EscapeDataString(batchId) + "/results");
        request.Headers.Accept.ParseAdd("application/x-jsonl");
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var result = root.GetProperty("result");
            yield return (root.GetProperty("custom_id").GetString()!, result.GetProperty("type").GetString()!, result.GetRawText());
        }
    }

    private HttpRequestMessage Request(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(_base, path));
        if (_apiKey is { Length: > 0 })
        {
            request.Headers.TryAddWithoutValidation("x-api-key", _apiKey);
        }

        request.Headers.TryAddWithoutValidation("anthropic-version", _version);
        return request;
    }

    private async Task<JsonElement> SendJsonAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var response = await _http.SendAsync(request, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        using var document = JsonDocument.Parse(bytes);
        return document.RootElement.Clone();
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        string? message = null;
        try
        {
            using var document = JsonDocument.Parse(text);
            message = document.RootElement.GetProperty("error").GetProperty("message").GetString();
        }
        catch (Exception exception) when (exception is JsonException or KeyNotFoundException or InvalidOperationException)
        {
        }

        throw new MessageBatchesException((int)response.StatusCode, $"Message Batches API answered HTTP {(int)response.StatusCode}: {message ?? "(no error message)"}");
    }
}
