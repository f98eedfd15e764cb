using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ModelMix.Batching;
using ModelMix.Ledger;

namespace ModelMix.Server;

/// <summary>
/// The proxy's batch door: <c>POST /v1/modelmix/batch</c> queues a list of Messages requests as one job,
/// <c>GET /v1/modelmix/batch/{id}</c> reports its status and counts, <c>GET /v1/modelmix/batch/{id}/results</c>
/// streams its results as JSONL, <c>POST /v1/modelmix/batch/{id}/cancel</c> cancels it, and <c>POST /v1/messages</c> with <c>x-modelmix-batch: true</c> queues one request
/// (202 Accepted, through <see cref="BatchQueue"/>). Same virtual-key auth as <c>/v1/messages</c>; a job is visible only to the key that created it.
/// </summary>
internal sealed class BatchEndpoints(IBatchStore store, Batcher batcher, AuthGate auth, ProxyRequestReader reader, ProxyRouter router, BatchQueue queue)
{
    /// <summary><c>POST /v1/modelmix/batch</c>: <c>{"requests":[{"custom_id": "…", "params": {Messages body}}…]}</c>.</summary>
    public async Task SubmitAsync(HttpContext context)
    {
        var requestId = ProxyRequestId.New();
        context.Response.Headers["x-modelmix-request-id"] = requestId;
        var caller = await auth.AuthenticateAsync(context, requestId, AnthropicDialect.Instance);
        if (caller is null)
        {
            return;
        }

        var body = await reader.ReadBodyAsync(context, AnthropicDialect.Instance);
        if (body is null)
        {
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException exception)
        {
            await AnthropicError.WriteAsync(context, 400, $"The request body is not valid JSON: {exception.Message}", requestId: requestId);
            return;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("requests", out var requests) || requests.ValueKind != JsonValueKind.Array)
            {
                await AnthropicError.WriteAsync(context, 400, "requests: Field required — send {\"requests\": [{\"custom_id\": \"…\", \"params\": {a Messages request}}, …]}.", requestId: requestId);
                return;
            }

            var count = requests.GetArrayLength();
            if (count == 0 || count > BatcherOptions.ApiMaxRequests)
            {
                await AnthropicError.WriteAsync(context, 400, $"requests: a job holds 1 to {BatcherOptions.ApiMaxRequests} requests, not {count}.", requestId: requestId);
                return;
            }

            var items = new List<BatchItemInput>(count);
            var maxTokens = new List<long>(count);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var index = 0;
            foreach (var entry in requests.EnumerateArray())
            {
                var at = $"requests.{index}";
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("params", out var parameters) || parameters.ValueKind != JsonValueKind.Object)
                {
                    await AnthropicError.WriteAsync(context, 400, $"{at}.params: Field required (an object: the Messages request).", requestId: requestId);
                    return;
                }

                var customId = index.ToString(CultureInfo.InvariantCulture);
                if (entry.TryGetProperty("custom_id", out var id))
                {
                    if (id.ValueKind != JsonValueKind.String || id.GetString() is not { Length: > 0 and <= 64 } text)
                    {
                        await AnthropicError.WriteAsync(context, 400, $"{at}.custom_id: must be a string of 1 to 64 characters.", requestId: requestId);
                        return;
                    }

                    customId = text;
                }

                if (!seen.Add(customId))
                {
                    await AnthropicError.WriteAsync(context, 400, $"{at}.custom_id: '{customId}' is used more than once; each request in a job needs a unique custom_id.", requestId: requestId);
                    return;
                }

                var raw = Encoding.UTF8.GetBytes(parameters.GetRawText());
                if (!MessagesRequest.TryParse(raw, out var request, out var error))
                {
                    await AnthropicError.WriteAsync(context, 400, $"{at}.params: {error}", requestId: requestId);
                    return;
                }

                if (request!.Stream)
                {
                    await AnthropicError.WriteAsync(context, 400, $"{at}.params.stream: a batched request cannot stream.", requestId: requestId);
                    return;
                }

                (raw, request) = router.WithCatalogName(raw, request); // one spelling per model (CLAUDE-HAIKU-4-5 → claude-haiku-4-5)

                var item = await queue.RouteAsync(context, customId, raw, request, requestId, $"{at}.params.model");
                if (item is null)
                {
                    return;
                }

                items.Add(item);
                maxTokens.Add(request.MaxTokens);
                index++;
            }

            var job = await queue.CreateAsync(context, requestId, caller, items, maxTokens);
            if (job is null)
            {
                return;
            }

            batcher.Wake();
            await BatchQueue.WriteJobAsync(context, job, 200);
        }
    }

    /// <summary><c>GET /v1/modelmix/batch/{id}</c>.</summary>
    public async Task StatusAsync(HttpContext context, string id)
    {
        var job = await FindAsync(context, id);
        if (job is not null)
        {
            await BatchQueue.WriteJobAsync(context, job, 200);
        }
    }

    /// <summary><c>POST /v1/modelmix/batch/{id}/cancel</c>: cancels the job (see <see cref="Batcher.CancelAsync"/>) and answers the job.</summary>
    public async Task CancelAsync(HttpContext context, string id)
    {
        var job = await FindAsync(context, id);
        if (job is null)
        {
            return;
        }

        var canceled = await batcher.CancelAsync(job.Id, context.RequestAborted) ?? job;
        await BatchQueue.WriteJobAsync(context, canceled, 200);
    }

    /// <summary><c>GET /v1/modelmix/batch/{id}/results</c>: one JSONL line per request that has a result, in job order.</summary>
    public async Task ResultsAsync(HttpContext context, string id)
    {
        var job = await FindAsync(context, id);
        if (job is null)
        {
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/x-jsonl";
        context.Response.Headers["x-modelmix-batch-status"] = job.ProcessingStatus;
        var output = new StringBuilder();
        foreach (var item in await store.GetItemsAsync(job.Id, context.RequestAborted))
        {
            if (item.Result is null)
            {
                continue;
            }

            output.Append("{\"custom_id\":").Append(JsonSerializer.Serialize(item.CustomId))
                .Append(",\"result\":").Append(item.Result).Append("}\n");
        }

        await context.Response.WriteAsync(output.ToString(), context.RequestAborted);
    }

    private async Task<BatchJob?> FindAsync(HttpContext context, string id)
    {
        var requestId = ProxyRequestId.New();
        context.Response.Headers["x-modelmix-request-id"] = requestId;
        var caller = await auth.AuthenticateAsync(context, requestId, AnthropicDialect.Instance);
        if (caller is null)
        {
            return null;
        }

        var job = await store.GetJobAsync(id, context.RequestAborted);
        if (job is null || job.KeyId != caller.KeyId)
        {
            await AnthropicError.WriteAsync(context, 404, $"No batch job '{id}' for this key.", "not_found_error", requestId);
            return null;
        }

        return job;
    }
}
