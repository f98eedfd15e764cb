using System.Net.Http.Headers;
using System.Text.Json;

using ModelMix.Serialization;

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
            body.Write(JsonSerializer.SerializeToUtf8Bytes(items[i].Id, PlainJsonContext.Default.String));
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

    /// <summary>Streams the well-formed results of an ended batch: (custom_id, result type, raw result object); lines that are not are skipped.</summary>
    public async IAsyncEnumerable<(string CustomId, string Type, string Result)> ResultsAsync(string batchId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var entry in ReadResultsAsync(batchId, cancellationToken))
        {
            if (entry is { Problem: null, CustomId: { } customId, Type: { } type, Result: { } result })
            {
                yield return (customId, type, result);
            }
        }
    }

    /// <summary>
    /// Streams the results JSONL of an ended batch line by line, each read on its own (<see cref="BatchResultEntry"/>):
    /// a line that is not JSON, or has no <c>custom_id</c> or no result, is reported, never thrown, so one bad line
    /// cannot stop the others from being collected. An error answer throws <see cref="MessageBatchesException"/>.
    /// </summary>
    public async IAsyncEnumerable<BatchResultEntry> ReadResultsAsync(string batchId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var request = Request(HttpMethod.Get, "v1/messages/batches/" + Uri.EscapeDataString(batchId) + "/results");
        request.Headers.Accept.ParseAdd("application/x-jsonl");
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        var number = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            number++;
            if (!string.IsNullOrWhiteSpace(line))
            {
                yield return ParseResultLine(line, number);
            }
        }
    }

    /// <summary>One line of a results file, read without throwing.</summary>
    internal static BatchResultEntry ParseResultLine(string line, int number)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException)
        {
            return new BatchResultEntry(null, null, null, $"line {number} of the results is not JSON");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("custom_id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString() is not { Length: > 0 } customId)
            {
                return new BatchResultEntry(null, null, null, $"line {number} of the results has no custom_id");
            }

            if (!root.TryGetProperty("result", out var result) || result.ValueKind != JsonValueKind.Object)
            {
                return new BatchResultEntry(customId, null, null, $"the results line for this request (line {number}) has no result object");
            }

            if (!result.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                return new BatchResultEntry(customId, null, result.GetRawText(), $"the result for this request (line {number}) has no type");
            }

            return new BatchResultEntry(customId, type.GetString(), result.GetRawText(), null);
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
        var call = $"{request.Method} {request.RequestUri?.AbsolutePath}";
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException exception)
        {
            var start = System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 60)).ReplaceLineEndings(" ");
            throw new MessageBatchesAnswerException($"{call} answered HTTP {(int)response.StatusCode} with a body that is not JSON (\"{start}\")", exception);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new MessageBatchesAnswerException($"{call} answered HTTP {(int)response.StatusCode} with JSON that is not an object ({document.RootElement.ValueKind})");
            }

            return document.RootElement.Clone();
        }
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
