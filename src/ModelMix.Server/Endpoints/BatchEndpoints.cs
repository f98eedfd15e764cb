using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ModelMix.Batching;
using ModelMix.Caching;
using ModelMix.Ledger;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The proxy's batch door: <c>POST /v1/modelmix/batch</c> queues a list of Messages requests as one job,
/// <c>GET /v1/modelmix/batch/{id}</c> reports its status and counts, <c>GET /v1/modelmix/batch/{id}/results</c>
/// streams its results as JSONL, <c>POST /v1/modelmix/batch/{id}/cancel</c> cancels it, and <c>POST /v1/messages</c> with <c>x-modelmix-batch: true</c> queues one request
/// (202 Accepted). Same virtual-key auth as <c>/v1/messages</c>; a job is visible only to the key that created it.
/// </summary>
internal sealed class BatchEndpoints(IBatchStore store, Batcher batcher, AuthGate auth, ProxyRequestReader reader, ProxyRouter router, AttemptRecorder recorder, TimeProvider time, BatchBudgets budgets, ProxyPromptCaching? caching = null)
{
    /// <summary>The request header that defers a <c>/v1/messages</c> call to the batch queue.</summary>
    public const string BatchHeader = "x-modelmix-batch";

    /// <summary>Whether a <c>/v1/messages</c> request asked to be batched.</summary>
    public static bool Wants(HttpContext context) =>
        string.Equals(context.Request.Headers[BatchHeader].ToString(), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether the caller refused batching (<c>x-modelmix-batch: false</c>): a rule's batch action then does not apply.</summary>
    public static bool RefusesBatch(HttpContext context) =>
        string.Equals(context.Request.Headers[BatchHeader].ToString(), "false", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Queues one request a routing rule with <c>"batch": true</c> matched (<paramref name="decision"/> is that rule's),
    /// answering 202 with the job like the header does; the answer carries <c>x-modelmix-batched-by</c> (the policy) and <c>x-modelmix-routed-model</c>.
    /// </summary>
    public async Task EnqueueDecidedAsync(HttpContext context, string requestId, byte[] body, MessagesRequest request, AuthCaller caller, RoutingDecision decision)
    {
        // Header values must be ASCII, so the policy's name here; the full reason is in the job's ledger record.
        context.Response.Headers["x-modelmix-batched-by"] = decision.Policy;
        context.Response.Headers["x-modelmix-routed-model"] = decision.Model;
        var item = new BatchItemInput("0", Cache(RequestBodyRewriter.ReplaceModel(body, decision.Model), decision.Model), request.Model, decision.Model, decision.Policy, decision.Reason);
        await QueueOneAsync(context, requestId, item, request, caller);
    }

    /// <summary>Queues one checked Messages body as a job of one and answers 202 with the job.</summary>
    public async Task EnqueueSingleAsync(HttpContext context, string requestId, byte[] body, MessagesRequest request, AuthCaller caller)
    {
        if (request.Stream)
        {
            await AnthropicError.WriteAsync(context, 400, "stream: a batched request cannot stream; drop \"stream\": true or the x-modelmix-batch header.", requestId: requestId);
            return;
        }

        var item = await RouteAsync(context, "0", body, request, requestId, "model");
        if (item is null)
        {
            return;
        }

        await QueueOneAsync(context, requestId, item, request, caller);
    }

    private async Task QueueOneAsync(HttpContext context, string requestId, BatchItemInput item, MessagesRequest request, AuthCaller caller)
    {
        var job = await CreateAsync(context, requestId, caller, [item], [request.MaxTokens]);
        if (job is null)
        {
            return;
        }

        batcher.Wake();
        context.Response.StatusCode = 202;
        context.Response.Headers.Location = $"/v1/modelmix/batch/{job.Id}";
        await WriteJobAsync(context, job, 202);
    }

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

                var item = await RouteAsync(context, customId, raw, request, requestId, $"{at}.params.model");
                if (item is null)
                {
                    return;
                }

                items.Add(item);
                maxTokens.Add(request.MaxTokens);
                index++;
            }

            var job = await CreateAsync(context, requestId, caller, items, maxTokens);
            if (job is null)
            {
                return;
            }

            batcher.Wake();
            await WriteJobAsync(context, job, 200);
        }
    }

    /// <summary><c>GET /v1/modelmix/batch/{id}</c>.</summary>
    public async Task StatusAsync(HttpContext context, string id)
    {
        var job = await FindAsync(context, id);
        if (job is not null)
        {
            await WriteJobAsync(context, job, 200);
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
        await WriteJobAsync(context, canceled, 200);
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

    /// <summary>
    /// Holds the job's worst case against the caller's budgets (<see cref="BatchBudgets"/>), then queues it. Null after
    /// an error answer was written (429 over budget, 409 idempotency key of another caller).
    /// </summary>
    private async Task<BatchJob?> CreateAsync(HttpContext context, string requestId, AuthCaller caller, IReadOnlyList<BatchItemInput> items, IReadOnlyList<long> maxTokens)
    {
        var now = time.GetUtcNow();
        var input = Input(context, caller, items) with { Id = SqliteBatchStore.NewJobId(now) };
        var (allowed, reservation) = await budgets.ReserveAsync(context, caller, input.Id!, items, maxTokens, input.SessionId);
        if (!allowed)
        {
            return null;
        }

        var (job, created) = await store.CreateJobAsync(input with { BudgetReservation = reservation }, now, context.RequestAborted);
        if (!created)
        {
            await budgets.ReleaseAsync(reservation); // the first job holds its own reservation
        }

        if (job.KeyId != caller.KeyId)
        {
            await AnthropicError.WriteAsync(context, 409, "Idempotency-Key: this key was already used for another caller's job.", requestId: requestId);
            return null;
        }

        if (!created)
        {
            context.Response.Headers["x-modelmix-idempotent-replay"] = "true";
        }

        return job;
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

    private async Task<BatchItemInput?> RouteAsync(HttpContext context, string customId, byte[] body, MessagesRequest request, string requestId, string field)
    {
        if (router.IsAlias(request.Model, out var policy))
        {
            var features = request.Features with { RequestId = requestId };
            var decision = router.Fit.Fit(await ProxyRouter.DecideAsync(policy!, features, context.RequestAborted), features);
            return new BatchItemInput(customId, Cache(RequestBodyRewriter.ReplaceModel(body, decision.Model), decision.Model), request.Model, decision.Model, decision.Policy, decision.Reason);
        }

        if (!recorder.Prices.TryResolveId(request.Model, out _))
        {
            await AnthropicError.WriteAsync(context, 400, $"{field}: '{request.Model}' is neither a routing alias nor in ModelMix's price book ({recorder.Prices.SourceName}), so its cost could not be recorded.", requestId: requestId);
            return null;
        }

        return new BatchItemInput(customId, Cache(body, request.Model), request.Model, request.Model, "passthrough", "the caller named a model");
    }

    /// <summary>Batch work gets 1-hour cache breakpoints (its requests may run far apart within the 24 h window).</summary>
    private byte[] Cache(byte[] body, string model) => caching?.Apply(body, model, PromptCacheTtl.OneHour) ?? body;

    private static BatchJobInput Input(HttpContext context, AuthCaller caller, IReadOnlyList<BatchItemInput> items) => new()
    {
        KeyId = caller.KeyId,
        IdempotencyKey = context.Request.Headers["idempotency-key"].ToString() is { Length: > 0 } key ? key : null,
        SessionId = ProxySession.Of(context.Request),
        TaskLabel = context.Request.Headers["x-modelmix-task"].ToString() is { Length: > 0 } task ? task : null,
        Items = items,
    };

    private static async Task WriteJobAsync(HttpContext context, BatchJob job, int status)
    {
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(Describe(job), context.RequestAborted);
    }

    /// <summary>The job as the API shows it (a shape modelled on the Message Batches batch object).</summary>
    public static object Describe(BatchJob job) => new Dictionary<string, object?>
    {
        ["id"] = job.Id,
        ["type"] = "modelmix_batch",
        ["processing_status"] = job.ProcessingStatus,
        ["request_counts"] = new Dictionary<string, long>
        {
            ["queued"] = job.Queued,
            ["processing"] = job.Processing,
            ["succeeded"] = job.Succeeded,
            ["errored"] = job.Errored,
            ["canceled"] = job.Canceled,
            ["expired"] = job.Expired,
        },
        ["total"] = job.Total,
        ["created_at"] = job.CreatedAt,
        ["cancel_initiated_at"] = job.CanceledAt,
        ["failure_count"] = job.Failures, // faults since its last progress (docs/batch.md#fault-isolation-and-quarantine)
        ["last_error"] = job.LastError,
        ["quarantined_at"] = job.QuarantinedAt,
        ["results_url"] = $"/v1/modelmix/batch/{job.Id}/results",
    };
}
