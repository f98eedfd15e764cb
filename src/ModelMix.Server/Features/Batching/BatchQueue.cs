using Microsoft.AspNetCore.Http;
using ModelMix.Batching;
using ModelMix.Caching;
using ModelMix.Ledger;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The batch queue at the proxy: a checked Messages body (or a job's items) routed, given 1-hour cache breakpoints, held
/// against the caller's budgets (<see cref="BatchBudgets"/>) and stored as a job for the batcher (the Message Batches
/// API, docs/batch.md). <c>/v1/messages</c> queues through it on <c>x-modelmix-batch: true</c>, the pipeline on a
/// routing rule's <c>"batch": true</c>, and <see cref="BatchEndpoints"/> for <c>POST /v1/modelmix/batch</c>.
/// </summary>
internal sealed class BatchQueue(IBatchStore store, Batcher batcher, ProxyRouter router, AttemptRecorder recorder, TimeProvider time, BatchBudgets budgets, ProxyPromptCaching? caching = null)
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

    /// <summary>
    /// Holds the job's worst case against the caller's budgets (<see cref="BatchBudgets"/>), then queues it. Null after
    /// an error answer was written (429 over budget, 409 idempotency key of another caller).
    /// </summary>
    internal async Task<BatchJob?> CreateAsync(HttpContext context, string requestId, AuthCaller caller, IReadOnlyList<BatchItemInput> items, IReadOnlyList<long> maxTokens)
    {
        var now = time.GetUtcNow();
        var input = Input(context, caller, items) with { Id = BatchIds.NewJobId(now) };
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

    /// <summary>Routes one item (an alias decided, a named model checked against the price book); null after a 400 was written.</summary>
    internal async Task<BatchItemInput?> RouteAsync(HttpContext context, string customId, byte[] body, MessagesRequest request, string requestId, string field)
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

    /// <summary>Answers the job as the API shows it (<see cref="Describe"/>).</summary>
    internal static async Task WriteJobAsync(HttpContext context, BatchJob job, int status)
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
