using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace FakeAnthropic;

/// <summary>The Message Batches endpoints of the fake (the state and the script live in <see cref="FakeBatches"/>).</summary>
public sealed partial class FakeAnthropicServer
{
    /// <summary>Largest <c>max_tokens</c> the fake's models accept (<c>models/list.json</c>: 64,000 for every model).</summary>
    private const long MaxOutputTokens = 64_000;

    /// <summary>The Message Batches API: its script (processing time, outcomes) and its call counts.</summary>
    public FakeBatches Batches { get; }

    private async Task BatchesAsync(HttpContext ctx, string[] segments, JsonNode? json, string body, string requestId, CancellationToken ct)
    {
        var method = ctx.Request.Method;
        switch (segments)
        {
            case ["v1", "messages", "batches"] when method == HttpMethods.Post:
            {
                var version = ctx.Request.Headers["anthropic-version"].ToString();
                var (status, text, errorType) = Batches.Create(json, Encoding.UTF8.GetByteCount(body), p => BatchParamsProblem(p, version));
                if (errorType is not null)
                {
                    await WriteErrorAsync(ctx, status, errorType, text, requestId, ct);
                    return;
                }

                await WriteJsonAsync(ctx, text, ct);
                return;
            }

            case ["v1", "messages", "batches"] when method == HttpMethods.Get:
            {
                var query = ctx.Request.Query;
                var limit = int.TryParse(query["limit"].ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 1000) : 20;
                var after = query["after_id"].ToString() is { Length: > 0 } a ? a : null;
                var before = query["before_id"].ToString() is { Length: > 0 } b ? b : null;
                await WriteJsonAsync(ctx, Batches.List(limit, after, before), ct);
                return;
            }

            case ["v1", "messages", "batches", var id] when method == HttpMethods.Get:
                await WriteBatchOr404Async(ctx, Batches.Retrieve(id), id, requestId, ct);
                return;
            case ["v1", "messages", "batches", var id, "cancel"] when method == HttpMethods.Post:
                await WriteBatchOr404Async(ctx, Batches.Cancel(id), id, requestId, ct);
                return;
            case ["v1", "messages", "batches", var id, "results"] when method == HttpMethods.Get:
            {
                var (jsonl, status, problem) = Batches.Results(id);
                if (jsonl is null)
                {
                    await WriteErrorAsync(ctx, status, status == 404 ? "not_found_error" : "invalid_request_error", problem!, requestId, ct);
                    return;
                }

                // The real API streams the JSONL as application/binary (the SDK asks for application/x-jsonl).
                ctx.Response.ContentType = "application/binary";
                await ctx.Response.WriteAsync(jsonl, ct);
                return;
            }

            default:
                await WriteErrorAsync(ctx, 404, "not_found_error", "Not Found", requestId, ct);
                return;
        }
    }

    private static async Task WriteBatchOr404Async(HttpContext ctx, string? batch, string id, string requestId, CancellationToken ct)
    {
        if (batch is null)
        {
            await WriteErrorAsync(ctx, 404, "not_found_error", $"No batch found with id '{id}'", requestId, ct);
            return;
        }

        await WriteJsonAsync(ctx, batch, ct);
    }

    /// <summary>What the API says, later, about a batch request's params: the Messages checks plus the model's output cap.</summary>
    private string? BatchParamsProblem(JsonObject parameters, string version)
    {
        if (MessagesProblem(parameters, version, requireMaxTokens: true) is { } problem)
        {
            return problem;
        }

        if (parameters["stream"] is JsonValue stream && stream.TryGetValue<bool>(out var streaming) && streaming)
        {
            return "stream: streaming is not supported in the Message Batches API";
        }

        var maxTokens = parameters["max_tokens"]!.GetValue<long>();
        var model = ModelSnapshots.Resolve(parameters["model"]!.GetValue<string>());
        return maxTokens > MaxOutputTokens
            ? $"max_tokens: {maxTokens} > {MaxOutputTokens}, which is the maximum allowed number of output tokens for {model}"
            : null;
    }
}
