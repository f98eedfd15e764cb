using System.Net;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelMix.Server;

namespace ModelMix.Benchmarks;

/// <summary>
/// The proxy's own work per request, without sockets: <c>POST /v1/messages</c> with <c>model: auto</c> through the
/// real <see cref="MessagesForwarder"/> (authentication, parsing, routing, budgets, the upstream call, pricing, the
/// SQLite ledger, metrics, the relay), its upstream answered at once in memory with the shared answer fixture.
/// <see cref="BareRelay"/> is the floor: the same body read, one upstream call through an invoker and the answer
/// written back, nothing else. Their difference is what ModelMix adds to a relay (docs/performance.md, eighth round).
/// The ledger's writer commits on its own thread; when it falls behind, <see cref="Forward"/> waits for room in its
/// buffer, as a request would.
/// </summary>
[MemoryDiagnoser]
public class ProxyPipelineBenchmarks
{
    private static readonly byte[] RequestBody =
        """{"model":"auto","max_tokens":1024,"messages":[{"role":"user","content":"In one sentence, what does a model router do?"}]}"""u8.ToArray();

    private static readonly Uri UpstreamUri = new("http://127.0.0.1:9/v1/messages");

    private byte[] _answer = [];
    private string _folder = string.Empty;
    private WebApplication _app = null!;
    private MessagesForwarder _forwarder = null!;
    private HttpMessageInvoker _bare = null!;

    /// <summary>Builds the proxy's services over a temp ledger file, with the upstream handler replaced by <see cref="InstantUpstream"/>.</summary>
    [GlobalSetup]
    public async Task SetupAsync()
    {
        _answer = await File.ReadAllBytesAsync(SharedFixture("messages/response-text.json"));
        _folder = Path.Combine(Path.GetTempPath(), "modelmix-pipeline-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelMix:Upstream"] = "http://127.0.0.1:9/",
            ["ModelMix:UpstreamApiKey"] = "bench-key",
            ["ModelMix:Store"] = Path.Combine(_folder, "ledger.db"),
        });
        builder.Logging.ClearProviders();
        ProxyApplication.AddServices(builder.Services, builder.Configuration);
        var answer = _answer;
        builder.Services.AddHttpClient(UpstreamSender.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => new InstantUpstream(answer));
        _app = builder.Build();
        await _app.StartAsync();
        _forwarder = _app.Services.GetRequiredService<MessagesForwarder>();
        _bare = new HttpMessageInvoker(new InstantUpstream(_answer));
    }

    /// <summary>Stops the proxy's services (the ledger commits what it holds) and deletes the temp folder.</summary>
    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _bare.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>One request through <see cref="MessagesForwarder.HandleAsync"/>.</summary>
    [Benchmark]
    public async Task<int> Forward()
    {
        var context = NewContext();
        await _forwarder.HandleAsync(context);
        return Answered(context);
    }

    /// <summary>One request through a relay that only reads, forwards and writes back.</summary>
    [Benchmark(Baseline = true)]
    public async Task<int> BareRelay()
    {
        var context = NewContext();
        var body = new byte[context.Request.ContentLength!.Value];
        await context.Request.Body.ReadExactlyAsync(body);
        using var request = new HttpRequestMessage(HttpMethod.Post, UpstreamUri) { Content = new ByteArrayContent(body), Version = HttpVersion.Version11 };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        request.Headers.TryAddWithoutValidation("anthropic-version", "2023-06-01");
        using var response = await _bare.SendAsync(request, CancellationToken.None);
        var answer = await response.Content.ReadAsByteArrayAsync();
        context.Response.StatusCode = (int)response.StatusCode;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = answer.Length;
        await context.Response.Body.WriteAsync(answer);
        return Answered(context);
    }

    private static DefaultHttpContext NewContext()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Path = "/v1/messages";
        context.Request.Headers.ContentType = "application/json";
        context.Request.Headers["anthropic-version"] = "2023-06-01";
        context.Request.ContentLength = RequestBody.Length;
        context.Request.Body = new MemoryStream(RequestBody, writable: false);
        context.Connection.RemoteIpAddress = IPAddress.Loopback;
        context.Response.Body = Stream.Null;
        return context;
    }

    private static int Answered(HttpContext context) =>
        context.Response.StatusCode == 200 ? 200 : throw new InvalidOperationException($"The request was answered {context.Response.StatusCode}.");

    private static string SharedFixture(string relativePath)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "shared", "fixtures", "anthropic", relativePath);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"../shared/fixtures/anthropic/{relativePath} was not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>An upstream that answers every call at once with the same Messages answer, as the load script's nginx does.</summary>
    private sealed class InstantUpstream(byte[] answer) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(answer), RequestMessage = request };
            response.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            response.Content.Headers.ContentLength = answer.Length;
            response.Headers.TryAddWithoutValidation("request-id", "req_011CBenchUpstream");
            return Task.FromResult(response);
        }
    }
}
