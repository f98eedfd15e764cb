using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Ledger;

namespace ModelMix.Server.Tests;

/// <summary>
/// The proxy's real services (ProxyApplication.AddServices) over a temp SQLite ledger, listening on a free loopback
/// port, with the upstream HttpClient's handler replaced by <see cref="ScriptedUpstream"/>: the split-out steps are
/// resolved from DI and driven with a <see cref="DefaultHttpContext"/>, as the pipeline drives them.
/// </summary>
internal sealed class ProxyHarness : IAsyncDisposable
{
    public const string UpstreamKey = "test-upstream-key";

    private readonly string _folder;
    private readonly WebApplication _app;

    private ProxyHarness(string folder, WebApplication app, ScriptedUpstream upstream)
    {
        _folder = folder;
        _app = app;
        Upstream = upstream;
    }

    public ScriptedUpstream Upstream { get; }

    public IServiceProvider Services => _app.Services;

    public T Get<T>() where T : notnull => _app.Services.GetRequiredService<T>();

    public static async Task<ProxyHarness> StartAsync(IDictionary<string, string?>? settings = null)
    {
        var folder = Path.Combine(Path.GetTempPath(), "modelmix-server-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var config = new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = "http://127.0.0.1:9/",
            ["ModelMix:UpstreamApiKey"] = UpstreamKey,
            ["ModelMix:Store"] = Path.Combine(folder, "ledger.db"),
            ["ModelMix:RetryBaseDelay"] = "00:00:00.001",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            config[key] = value;
        }

        builder.Configuration.AddInMemoryCollection(config);
        builder.Logging.ClearProviders();
        ProxyApplication.AddServices(builder.Services, builder.Configuration);
        var upstream = new ScriptedUpstream();
        builder.Services.AddHttpClient(UpstreamSender.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => new ScriptedUpstream.Handler(upstream));
        var app = builder.Build();
        await app.StartAsync();
        return new ProxyHarness(folder, app, upstream);
    }

    /// <summary>A client request: its body, headers and response body in memory.</summary>
    public HttpContext NewContext(byte[]? body = null, string? query = null, bool declareLength = true)
    {
        var context = new DefaultHttpContext { RequestServices = _app.Services };
        context.Request.Method = "POST";
        context.Request.Path = "/v1/messages";
        if (query is not null)
        {
            context.Request.QueryString = new QueryString(query);
        }

        context.Request.Body = new MemoryStream(body ?? []);
        if (declareLength)
        {
            context.Request.ContentLength = body?.Length ?? 0;
        }

        context.Response.Body = new MemoryStream();
        return context;
    }

    /// <summary>One call of a request to <paramref name="model"/>, held by a hold without limits, watched under no client token.</summary>
    public CallContext NewCall(HttpContext context, byte[] body, string model, out BudgetHold hold, string requestId = "req_test", string? sessionId = null)
    {
        Assert.True(MessagesRequest.TryParse(body, out var request, out var error), error);
        hold = new BudgetHold(keyId: null);
        var watch = Get<ClientHangups>().Watch(context.RequestAborted);
        return Get<ProxyRequestReader>().NewCall(context, requestId, request!, body, new Route(model, "passthrough", "the caller named a model"), sessionId, null, hold, watch);
    }

    /// <summary>The ledger records of <paramref name="requestId"/>, oldest attempt first (after a flush).</summary>
    public async Task<List<LedgerRecord>> RecordsAsync(string requestId)
    {
        var ledger = Get<ILedger>();
        await ledger.FlushAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in ledger.ReadAsync(new LedgerQuery { RequestId = requestId }))
        {
            records.Add(record);
        }

        return records.OrderBy(record => record.Attempt).ToList();
    }

    public static string ResponseText(HttpContext context) => Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // a file still closing on a loaded machine: the temp folder is left behind
        }
    }
}

/// <summary>The upstream, scripted: each call takes the next answer; every request is kept (URI, headers, body bytes).</summary>
internal sealed class ScriptedUpstream
{
    private readonly ConcurrentQueue<Func<HttpResponseMessage>> _answers = new();

    public ConcurrentQueue<SeenRequest> Seen { get; } = new();

    public void Answer(HttpStatusCode status, string json) =>
        _answers.Enqueue(() => new HttpResponseMessage(status) { Content = new StringContent(json, Encoding.UTF8, "application/json") });

    public void Stream(string events) =>
        _answers.Enqueue(() => new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(events, Encoding.UTF8, "text/event-stream") });

    public void Fail() => _answers.Enqueue(() => throw new HttpRequestException("connection refused (scripted)"));

    internal sealed record SeenRequest(Uri Uri, Dictionary<string, string> Headers, byte[] Body);

    internal sealed class Handler(ScriptedUpstream script) : HttpMessageHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var headers = request.Headers.NonValidated.ToDictionary(header => header.Key.ToLowerInvariant(), header => header.Value.ToString());
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            script.Seen.Enqueue(new SeenRequest(request.RequestUri!, headers, body));
            Assert.True(script._answers.TryDequeue(out var answer), "the upstream was called more often than scripted");
            return answer();
        }
    }
}

/// <summary>Bodies and answers the tests send and script.</summary>
internal static class Wire
{
    public static byte[] Request(string model, bool stream = false) =>
        Encoding.UTF8.GetBytes("{\"model\":\"" + model + "\",\"max_tokens\":1024," + (stream ? "\"stream\":true," : "") + "\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}");

    /// <summary>A Messages answer from <paramref name="model"/> with 1,000 input and 500 output tokens.</summary>
    public static string Message(string model, string text = "Hi") =>
        $$$"""{"id":"msg_1","type":"message","role":"assistant","model":"{{{model}}}","content":[{"type":"text","text":"{{{text}}}"}],"stop_reason":"end_turn","usage":{"input_tokens":1000,"output_tokens":500}}""";

    public static string Error(string type, string message) => $$$"""{"type":"error","error":{"type":"{{{type}}}","message":"{{{message}}}"}}""";

    /// <summary>A whole event stream from <paramref name="model"/>: 1,000 input tokens at the start, 500 output at the end.</summary>
    public static string Events(string model, bool complete = true) =>
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"" + model + "\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":1000,\"output_tokens\":1}}}\n\n"
        + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
        + (complete
            ? "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
              + "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":500}}\n\n"
              + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
            : string.Empty);
}
