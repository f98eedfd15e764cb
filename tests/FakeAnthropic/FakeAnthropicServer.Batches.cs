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
        FakeBatchAnswer answer;
        switch (segments)
        {
            case ["v1", "messages", "batches"] when method == HttpMethods.Post:
            {
                var version = ctx.Request.Headers["anthropic-version"].ToString();
                var (status, text, errorType) = Batches.Create(json, Encoding.UTF8.GetByteCount(body), p => BatchParamsProblem(p, version));
                answer = errorType is not null
                    ? new FakeBatchAnswer("create", null, status, ReplyBodies.Error(errorType, text, requestId))
                    : new FakeBatchAnswer("create", JsonNode.Parse(text)!["id"]!.GetValue<string>(), 200, text);
                break;
            }

            case ["v1", "messages", "batches"] when method == HttpMethods.Get:
            {
                var query = ctx.Request.Query;
                var limit = int.TryParse(query["limit"].ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 1000) : 20;
                var after = query["after_id"].ToString() is { Length: > 0 } a ? a : null;
                var before = query["before_id"].ToString() is { Length: > 0 } b ? b : null;
                answer = new FakeBatchAnswer("list", null, 200, Batches.List(limit, after, before));
                break;
            }

            case ["v1", "messages", "batches", var id] when method == HttpMethods.Get:
                answer = BatchOr404("retrieve", Batches.Retrieve(id), id, requestId);
                break;
            case ["v1", "messages", "batches", var id, "cancel"] when method == HttpMethods.Post:
                answer = BatchOr404("cancel", Batches.Cancel(id), id, requestId);
                break;
            case ["v1", "messages", "batches", var id, "results"] when method == HttpMethods.Get:
            {
                var (jsonl, status, problem) = Batches.Results(id);
                answer = jsonl is null
                    ? new FakeBatchAnswer("results", id, status, ReplyBodies.Error(status == 404 ? "not_found_error" : "invalid_request_error", problem!, requestId))
                    : new FakeBatchAnswer("results", id, 200, jsonl);
                break;
            }

            default:
                await WriteErrorAsync(ctx, 404, "not_found_error", "Not Found", requestId, ct);
                return;
        }

        answer = Batches.Lie?.Invoke(answer) ?? answer;
        var bytes = Encoding.UTF8.GetBytes(answer.Body);
        ctx.Response.StatusCode = answer.Status;
        // The real API streams the results JSONL as application/binary (the SDK asks for application/x-jsonl).
        ctx.Response.ContentType = answer.Call == "results" && answer.Status == 200 ? "application/binary" : "application/json";
        ctx.Response.ContentLength = bytes.Length;
        await ctx.Response.Body.WriteAsync(bytes, ct);
    }

    private static FakeBatchAnswer BatchOr404(string call, string? batch, string id, string requestId) => batch is null
        ? new FakeBatchAnswer(call, id, 404, ReplyBodies.Error("not_found_error", $"No batch found with id '{id}'", requestId))
        : new FakeBatchAnswer(call, id, 200, batch);

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
