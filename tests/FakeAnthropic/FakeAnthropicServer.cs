using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FakeAnthropic;

/// <summary>
/// A local fake of the Anthropic API over real HTTP (Kestrel on loopback) that speaks the wire format of
/// <c>shared/fixtures/anthropic</c>: validates requests like the API, answers <c>/v1/messages</c> from a
/// per-test FIFO script of <see cref="FakeReply"/> values (or a default), and records every request.
/// </summary>
public sealed partial class FakeAnthropicServer : IAsyncDisposable
{
    private static readonly string[] AcceptedVersions = ["2023-01-01", "2023-06-01", "2026-10-21"];
    private static readonly string[] SamplingParametersRemovedIn20261021 = ["temperature", "top_p", "top_k"];

    private static readonly TimeSpan CutGrace = TimeSpan.FromMilliseconds(50);

    private readonly Lock _gate = new();
    private readonly Queue<FakeReply> _script = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly List<ServedMessage> _served = [];
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private FakeReply _default = FakeReply.Default;
    private int _messageCount;

    private FakeAnthropicServer()
    {
        Batches = new FakeBatches(() => TimeProvider);
    }

    /// <summary>Base address of the server, e.g. <c>http://127.0.0.1:51234/</c>; give it to the SDK as <c>BaseUrl</c>.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>Whether requests without <c>x-api-key</c> or <c>authorization: Bearer</c> get a 401 (default true).</summary>
    public bool RequireApiKey { get; set; } = true;

    /// <summary>When set, the only API key (or bearer token) accepted; any other gets a 401 <c>invalid x-api-key</c>.</summary>
    public string? ExpectedApiKey { get; set; }

    /// <summary>
    /// Whether <c>temperature</c>, <c>top_p</c> and <c>top_k</c> are rejected with a 400 under
    /// <c>anthropic-version: 2026-10-21</c>, which removed them (default true).
    /// </summary>
    public bool RejectRemovedSamplingParameters { get; set; } = true;

    /// <summary>
    /// Whether requests that break a documented per-model rule of the model they name (forced tool use, thinking modes,
    /// sampling parameters, effort levels, prefill, computer tool versions, <c>max_tokens</c>, fast mode; see
    /// <see cref="ModelRequestRules"/>) get the API's 400 <c>invalid_request_error</c> before any script is consumed (default true).
    /// </summary>
    public bool EnforceModelRules { get; set; } = true;

    /// <summary>How many <c>GET /v1/messages/batches/{id}</c> calls per batch answer <c>in_progress</c> before <c>ended</c> (default 1).</summary>
    public int BatchInProgressPolls
    {
        get => Batches.InProgressPolls;
        set => Batches.InProgressPolls = value;
    }

    /// <summary>
    /// When set, replies without scripted usage report cache writes and reads from the request's <c>cache_control</c>
    /// breakpoints and the model's minimum (see <see cref="PromptCacheSimulator"/>); null (default) keeps the fixtures' usage.
    /// </summary>
    public PromptCacheSimulator? PromptCache { get; set; }

    /// <summary>
    /// When set, answers start with a signed thinking block, and requests to models with preserved thinking have the
    /// thinking blocks they send back checked (model and prefix binding: 400, or dropped and listed in
    /// <c>input_transformations</c>; see <see cref="PreservedThinkingSimulator"/>); null (default) keeps the fixtures as they are.
    /// </summary>
    public PreservedThinkingSimulator? PreservedThinking { get; set; }

    /// <summary>Whether requests are kept in <see cref="Requests"/> (default true; turn off for long load runs).</summary>
    public bool RecordRequests { get; set; } = true;

    /// <summary>The clock for the rate-limit reset headers (scripted delays are always real time).</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Every request received so far, in arrival order (a snapshot).</summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>The <c>POST /v1/messages</c> requests received so far, in arrival order (a snapshot).</summary>
    public IReadOnlyList<RecordedRequest> MessageRequests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests.Where(IsMessagesCall)];
            }
        }
    }

    /// <summary>Number of <c>POST /v1/messages</c> requests received, valid or not.</summary>
    public int MessageCount => Volatile.Read(ref _messageCount);

    /// <summary>Every <c>POST /v1/messages</c> call served so far, in arrival order, with whether its answer was written to the end.</summary>
    public IReadOnlyList<ServedMessage> ServedMessages
    {
        get
        {
            lock (_gate)
            {
                return [.. _served];
            }
        }
    }

    /// <summary>Number of scripted replies not yet consumed.</summary>
    public int PendingReplies
    {
        get
        {
            lock (_gate)
            {
                return _script.Count;
            }
        }
    }

    /// <summary>Starts a server on <c>127.0.0.1</c> with a free port.</summary>
    public static Task<FakeAnthropicServer> StartAsync(CancellationToken ct = default) =>
        StartAsync(new Uri("http://127.0.0.1:0"), ct);

    /// <summary>Starts a server on the given <c>http://ip:port</c> address (port 0 picks a free port).</summary>
    public static Task<FakeAnthropicServer> StartAsync(Uri listenUrl, CancellationToken ct = default) =>
        StartAsync(listenUrl, consoleLogging: false, ct);

    /// <summary>Queues a reply; each valid <c>POST /v1/messages</c> takes the oldest queued reply, else the default.</summary>
    public void Enqueue(FakeReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        lock (_gate)
        {
            _script.Enqueue(reply);
        }
    }

    /// <summary>
    /// Chooses the reply from the request itself when the queue is empty (before the default): return null to fall back
    /// to the default. For tests whose clients run calls concurrently or in an order the test does not script (e.g. a
    /// tool loop answered with a tool use, then with text once the tool result is in).
    /// </summary>
    public Func<JsonObject, FakeReply?>? Responder { get; set; }

    /// <summary>Sets the reply used when the queue is empty (initially <see cref="FakeReply.Default"/>).</summary>
    public void SetDefault(FakeReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        lock (_gate)
        {
            _default = reply;
        }
    }

    /// <summary>Forgets the script, the default, the recorded requests and the batch state.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _script.Clear();
            _requests.Clear();
            _served.Clear();
            _default = FakeReply.Default;
            Responder = null;
            Volatile.Write(ref _messageCount, 0);
        }

        Batches.Reset();
    }

    /// <summary>Stops the server; in-flight delays and streams are cancelled.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }

        _stopping.Dispose();
    }

    internal static async Task<FakeAnthropicServer> StartAsync(Uri listenUrl, bool consoleLogging, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(listenUrl);
        var server = new FakeAnthropicServer();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(options =>
        {
            options.AddServerHeader = false;
            if (IPAddress.TryParse(listenUrl.Host, out var ip))
            {
                options.Listen(ip, listenUrl.Port);
            }
            else
            {
                options.ListenLocalhost(listenUrl.Port);
            }
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        if (consoleLogging)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        }

        var app = builder.Build();
        app.Run(server.HandleAsync);
        await app.StartAsync(ct);
        server._app = app;
        var address = app.Urls.First();
        server.BaseUrl = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    private static bool IsMessagesCall(RecordedRequest r) =>
        r.Method == HttpMethods.Post && r.Path == "/v1/messages";

    private async Task HandleAsync(HttpContext ctx)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, _stopping.Token);
        var ct = linked.Token;
        try
        {
            await DispatchAsync(ctx, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            ctx.Abort();
        }
    }

    private async Task DispatchAsync(HttpContext ctx, CancellationToken ct)
    {
        var request = ctx.Request;
        var requestId = WireIds.NewRequestId();
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(ct);
        }

        var json = TryParse(body);
        var path = request.Path.Value ?? "/";
        var recorded = new RecordedRequest(
            request.Method,
            path,
            request.QueryString.Value ?? string.Empty,
            request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
            body,
            json);
        if (RecordRequests)
        {
            lock (_gate)
            {
                _requests.Add(recorded);
            }
        }

        var isMessages = IsMessagesCall(recorded);
        if (isMessages)
        {
            Interlocked.Increment(ref _messageCount);
        }

        WireHeaders.Apply(ctx.Response, requestId, TimeProvider.GetUtcNow(), exhausted: false);

        if (AuthenticationProblem(request) is { } authProblem)
        {
            await WriteErrorAsync(ctx, 401, "authentication_error", authProblem, requestId, ct);
            return;
        }

        if (VersionProblem(request) is { } versionProblem)
        {
            await WriteErrorAsync(ctx, 400, "invalid_request_error", versionProblem, requestId, ct);
            return;
        }

        var segments = path.Trim('/').Split('/');
        var method = request.Method;
        switch (segments)
        {
            case ["v1", "messages"] when method == HttpMethods.Post:
            {
                // Every messages call served, and whether its answer was written to the end or the caller went away
                // first: the upstream's own log, to match against a ledger (each call here is one the API would bill).
                var served = new ServedMessage(requestId);
                lock (_gate)
                {
                    _served.Add(served);
                }

                await MessagesAsync(ctx, json, requestId, ct);
                served.Completed = !ctx.RequestAborted.IsCancellationRequested;
                break;
            }
            case ["v1", "messages", "count_tokens"] when method == HttpMethods.Post:
                await CountTokensAsync(ctx, json, requestId, ct);
                break;
            case ["v1", "models"] when method == HttpMethods.Get:
                await WriteJsonAsync(ctx, SharedFixtures.Read("models/list.json"), ct);
                break;
            case ["v1", "models", var modelId] when method == HttpMethods.Get:
                await ModelAsync(ctx, modelId, requestId, ct);
                break;
            case ["_fake", "served"] when method == HttpMethods.Get:
            {
                // For scripts (bench/soak.sh): how many messages calls were served, and how many written to their end.
                var served = ServedMessages;
                await WriteJsonAsync(ctx, $"{{\"served\":{served.Count},\"completed\":{served.Count(m => m.Completed)}}}", ct);
                break;
            }

            case ["v1", "messages", "batches", ..]:
                await BatchesAsync(ctx, segments, json, body, requestId, ct); // FakeAnthropicServer.Batches.cs
                break;
            default:
                await WriteErrorAsync(ctx, 404, "not_found_error", "Not Found", requestId, ct);
                break;
        }
    }

    private string? AuthenticationProblem(HttpRequest request)
    {
        string? key = request.Headers["x-api-key"].ToString();
        if (string.IsNullOrEmpty(key))
        {
            var authorization = request.Headers.Authorization.ToString();
            key = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                ? authorization["Bearer ".Length..].Trim()
                : null;
        }

        if (string.IsNullOrEmpty(key))
        {
            return RequireApiKey ? "x-api-key header is required" : null;
        }

        return ExpectedApiKey is { } expected && !string.Equals(key, expected, StringComparison.Ordinal)
            ? "invalid x-api-key"
            : null;
    }

    private static string? VersionProblem(HttpRequest request)
    {
        var version = request.Headers["anthropic-version"].ToString();
        if (string.IsNullOrEmpty(version))
        {
            return "anthropic-version: header is required";
        }

        return AcceptedVersions.Contains(version, StringComparer.Ordinal)
            ? null
            : $"anthropic-version: invalid version '{version}'";
    }

    private string? MessagesProblem(JsonNode? json, string version, bool requireMaxTokens)
    {
        if (json is not JsonObject body)
        {
            return "There was an error parsing the body of your request. Please send a valid JSON object.";
        }

        if (body["model"] is not JsonValue model || model.GetValueKind() != JsonValueKind.String)
        {
            return body.ContainsKey("model") ? "model: Input should be a valid string" : "model: Field required";
        }

        if (body["messages"] is not JsonArray)
        {
            return body.ContainsKey("messages") ? "messages: Input should be a valid list" : "messages: Field required";
        }

        if (requireMaxTokens)
        {
            if (!body.ContainsKey("max_tokens"))
            {
                return "max_tokens: Field required";
            }

            if (body["max_tokens"] is not JsonValue maxTokens || !maxTokens.TryGetValue<long>(out var max) || max < 1)
            {
                return "max_tokens: Input should be a valid integer greater than or equal to 1";
            }
        }

        if (RejectRemovedSamplingParameters && version == "2026-10-21")
        {
            foreach (var name in SamplingParametersRemovedIn20261021)
            {
                if (body.ContainsKey(name))
                {
                    return $"{name}: Extra inputs are not permitted (removed in anthropic-version 2026-10-21)";
                }
            }
        }

        return null;
    }

    private async Task MessagesAsync(HttpContext ctx, JsonNode? json, string requestId, CancellationToken ct)
    {
        var version = ctx.Request.Headers["anthropic-version"].ToString();
        if (MessagesProblem(json, version, requireMaxTokens: true) is { } problem)
        {
            await WriteErrorAsync(ctx, 400, "invalid_request_error", problem, requestId, ct);
            return;
        }

        if (EnforceModelRules && ModelRequestRules.MessagesProblem((JsonObject)json!, version) is { } ruleProblem)
        {
            await WriteErrorAsync(ctx, 400, "invalid_request_error", ruleProblem, requestId, ct);
            return;
        }

        var thinking = PreservedThinking?.Evaluate((JsonObject)json!); // PreservedThinkingSimulator.cs
        if (thinking?.Error is { } thinkingProblem)
        {
            await WriteErrorAsync(ctx, 400, "invalid_request_error", thinkingProblem, requestId, ct);
            return;
        }

        FakeReply reply;
        lock (_gate)
        {
            reply = _script.TryDequeue(out var scripted) ? scripted : Responder?.Invoke((JsonObject)json!) ?? _default;
        }

        var streaming = json!["stream"] is JsonValue flag && flag.GetValueKind() == JsonValueKind.True;
        var model = reply.Model ?? ModelSnapshots.Resolve(json["model"]!.GetValue<string>());
        if (reply.Usage is null && reply.Kind != FakeReplyKind.Error && PromptCache is { } cache)
        {
            reply = reply.WithUsage(cache.Observe((JsonObject)json, model));
        }

        if (reply.Delay > TimeSpan.Zero)
        {
            await Task.Delay(reply.Delay, ct);
        }

        if (reply.Hold is { } hold)
        {
            await hold.WaitAsync(ct);
        }

        if (reply.DropConnection)
        {
            ctx.Abort();
            return;
        }

        foreach (var (name, value) in reply.ExtraHeaders)
        {
            ctx.Response.Headers[name] = value;
        }

        var kind = reply.Kind == FakeReplyKind.Auto
            ? streaming ? FakeReplyKind.Stream : FakeReplyKind.Message
            : reply.Kind;
        switch (kind)
        {
            case FakeReplyKind.Error:
                await WriteScriptedErrorAsync(ctx, reply, requestId, ct);
                break;
            case FakeReplyKind.Message:
            {
                var text = ReplyBodies.Message(
                    SharedFixtures.Read(reply.Fixture ?? FakeReply.DefaultMessageFixture), model, reply.Usage, thinking);
                if (reply.PaddingBytes > 0)
                {
                    var at = text.IndexOf("\"text\":\"", StringComparison.Ordinal) + 8;
                    text = text[..at] + new string('x', reply.PaddingBytes) + text[at..];
                }

                if (reply.CutBodyAfterBytes is { } cutAt)
                {
                    await CutReplies.WriteCutJsonAsync(ctx, text, cutAt, ct); // FakeReply.Faults.cs
                    break;
                }

                await WriteJsonAsync(ctx, reply.MalformedBody ? ReplyBodies.Truncate(text) : text, ct);
                break;
            }

            default:
                await WriteStreamAsync(ctx, reply, model, thinking, ct);
                break;
        }
    }

    private async Task WriteScriptedErrorAsync(HttpContext ctx, FakeReply reply, string requestId, CancellationToken ct)
    {
        var headers = ctx.Response.Headers;
        if (reply.StatusCode == 429)
        {
            WireHeaders.Apply(ctx.Response, requestId, TimeProvider.GetUtcNow(), exhausted: true);
        }

        if (reply.RetryAfter is { } wait)
        {
            headers["retry-after"] = WireHeaders.RetryAfterSeconds(wait);
        }

        if (reply.StatusCode >= 500)
        {
            headers["x-should-retry"] = "true";
        }

        foreach (var (name, value) in reply.ExtraHeaders)
        {
            headers[name] = value;
        }

        await WriteErrorAsync(ctx, reply.StatusCode, reply.ErrorType!, reply.ErrorMessage!, requestId, ct);
    }

    private static async Task WriteStreamAsync(
        HttpContext ctx, FakeReply reply, string model, PreservedThinkingReply? thinking, CancellationToken ct)
    {
        var events = ReplyBodies.Stream(
            SharedFixtures.Read(reply.Fixture ?? FakeReply.DefaultStreamFixture), model, reply.Usage, thinking);
        if (reply.PaddingBytes > 0)
        {
            var padded = events.ToList();
            var start = padded.FindIndex(e => e.Name == "content_block_start");
            padded.Insert(start + 1, new SseEvent(
                "content_block_delta",
                "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"" + new string('x', reply.PaddingBytes) + "\"}}"));
            events = padded;
        }

        var response = ctx.Response;
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        await response.StartAsync(ct);

        for (var i = 0; i < events.Count; i++)
        {
            if (reply.CutAfterEvents is { } cut && i >= cut)
            {
                await CutAsync(ctx, ct);
                return;
            }

            if (i > 0 && reply.EventDelay > TimeSpan.Zero)
            {
                await Task.Delay(reply.EventDelay, ct);
            }

            var ev = events[i];
            if (i == 0 && reply.MalformedBody)
            {
                ev = ev with { Data = ReplyBodies.Truncate(ev.Data) };
            }

            await response.WriteAsync(ev.ToWire(), ct);
            await response.Body.FlushAsync(ct);
        }

        if (reply.CutAfterEvents is { } last && last >= events.Count)
        {
            await CutAsync(ctx, ct);
        }
    }

    /// <summary>
    /// Aborts a started response without the final chunk. Kestrel drops output still queued for the socket
    /// on abort, so the flushed events get a short grace to reach the client first.
    /// </summary>
    private static async Task CutAsync(HttpContext ctx, CancellationToken ct)
    {
        await Task.Delay(CutGrace, ct);
        ctx.Abort();
    }

    private async Task CountTokensAsync(HttpContext ctx, JsonNode? json, string requestId, CancellationToken ct)
    {
        var version = ctx.Request.Headers["anthropic-version"].ToString();
        if (MessagesProblem(json, version, requireMaxTokens: false) is { } problem)
        {
            await WriteErrorAsync(ctx, 400, "invalid_request_error", problem, requestId, ct);
            return;
        }

        if (EnforceModelRules && ModelRequestRules.CountTokensProblem((JsonObject)json!) is { } ruleProblem)
        {
            await WriteErrorAsync(ctx, 400, "invalid_request_error", ruleProblem, requestId, ct);
            return;
        }

        if (PreservedThinking?.CountTokensProblem((JsonObject)json!) is { } thinkingProblem)
        {
            await WriteErrorAsync(ctx, 400, "invalid_request_error", thinkingProblem, requestId, ct);
            return;
        }

        await WriteJsonAsync(ctx, SharedFixtures.Read("count-tokens/response.json"), ct);
    }

    private static async Task ModelAsync(HttpContext ctx, string modelId, string requestId, CancellationToken ct)
    {
        var list = JsonNode.Parse(SharedFixtures.Read("models/list.json"))!;
        var wanted = ModelSnapshots.Resolve(modelId);
        var match = list["data"]!.AsArray().FirstOrDefault(m => m?["id"]?.GetValue<string>() == wanted);
        if (match is null)
        {
            await WriteErrorAsync(ctx, 404, "not_found_error", $"model: {modelId}", requestId, ct);
            return;
        }

        await WriteJsonAsync(ctx, match.ToJsonString(ReplyBodies.Wire), ct);
    }

    private static JsonNode? TryParse(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task WriteJsonAsync(HttpContext ctx, string json, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = bytes.Length;
        await ctx.Response.Body.WriteAsync(bytes, ct);
    }

    private static async Task WriteErrorAsync(
        HttpContext ctx, int status, string errorType, string message, string requestId, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(ReplyBodies.Error(errorType, message, requestId));
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = bytes.Length;
        await ctx.Response.Body.WriteAsync(bytes, ct);
    }
}
