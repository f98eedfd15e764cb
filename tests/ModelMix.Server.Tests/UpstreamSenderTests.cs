using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using ModelMix.Ledger;

namespace ModelMix.Server.Tests;

/// <summary>The send step (<see cref="UpstreamSender"/>): what goes upstream, the retries, and the record of every attempt.</summary>
public sealed class UpstreamSenderTests
{
    private const string Haiku = "claude-haiku-4-5";

    // Claude Haiku 4.5 at $1 / $5 per million input / output tokens (prices.json, platform.claude.com pricing):
    // 1,000 input tokens = $0.001, 500 output tokens = $0.0025, together $0.0035.
    private const decimal AnswerCost = 0.0035m;

    [Fact]
    public async Task Sends_the_body_bytes_unchanged_with_the_clients_version_beta_and_query_and_the_upstream_key()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        proxy.Upstream.Answer(HttpStatusCode.OK, Wire.Message(Haiku));
        var body = Wire.Request(Haiku);
        var context = proxy.NewContext(body, query: "?beta=true");
        context.Request.Headers["anthropic-version"] = "2023-06-01";
        context.Request.Headers["anthropic-beta"] = "interleaved-thinking-2025-05-14";
        var call = proxy.NewCall(context, body, Haiku, out _) with { Query = ProxyRequestReader.QueryOf(context) };

        using var result = await proxy.Get<UpstreamSender>().SendAsync(call, new StrongBox<int>(0));

        Assert.Equal(200, result.Status);
        var seen = Assert.Single(proxy.Upstream.Seen);
        Assert.Equal("http://127.0.0.1:9/v1/messages?beta=true", seen.Uri.ToString());
        Assert.Equal(body, seen.Body);
        Assert.Equal(ProxyHarness.UpstreamKey, seen.Headers["x-api-key"]);
        Assert.Equal("2023-06-01", seen.Headers["anthropic-version"]);
        Assert.Equal("interleaved-thinking-2025-05-14", seen.Headers["anthropic-beta"]);
        Assert.Equal(UpstreamSender.UserAgent, seen.Headers["user-agent"]);
    }

    [Fact]
    public async Task An_answered_attempt_is_priced_recorded_and_charged_to_the_hold()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        proxy.Upstream.Answer(HttpStatusCode.OK, Wire.Message(Haiku));
        var body = Wire.Request(Haiku);
        var call = proxy.NewCall(proxy.NewContext(body), body, Haiku, out var hold, requestId: "req_priced");

        using var result = await proxy.Get<UpstreamSender>().SendAsync(call, new StrongBox<int>(0));

        Assert.Equal(AnswerCost, result.Cost);
        Assert.Equal(AnswerCost, hold.Charged);
        var record = Assert.Single(await proxy.RecordsAsync("req_priced"));
        Assert.Equal(LedgerStatus.Ok, record.Status);
        Assert.Equal(1, record.Attempt);
        Assert.Equal(1000, record.Usage.InputTokens);
        Assert.Equal(500, record.Usage.OutputTokens);
        Assert.Equal(AnswerCost, record.Cost?.Total);
    }

    [Fact]
    public async Task An_overloaded_answer_is_retried_on_the_same_model_and_both_attempts_are_recorded()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        proxy.Upstream.Answer((HttpStatusCode)529, Wire.Error("overloaded_error", "Overloaded"));
        proxy.Upstream.Answer(HttpStatusCode.OK, Wire.Message(Haiku));
        var body = Wire.Request(Haiku);
        var call = proxy.NewCall(proxy.NewContext(body), body, Haiku, out var hold, requestId: "req_retried");
        var attempts = new StrongBox<int>(0);

        using var result = await proxy.Get<UpstreamSender>().SendAsync(call, attempts);

        Assert.Equal(200, result.Status);
        Assert.Equal(2, result.Attempt);
        Assert.Equal(2, attempts.Value);
        Assert.Equal(2, proxy.Upstream.Seen.Count);
        var records = await proxy.RecordsAsync("req_retried");
        Assert.Equal(2, records.Count);
        Assert.Equal((529, LedgerStatus.Error, "overloaded_error"), (records[0].HttpStatus, records[0].Status, records[0].ErrorType));
        Assert.Equal((200, LedgerStatus.Ok), (records[1].HttpStatus, records[1].Status));
        Assert.Equal(AnswerCost, hold.Charged); // the 529 carried no usage, so it costs nothing
    }

    [Fact]
    public async Task A_client_error_is_returned_without_a_retry()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        proxy.Upstream.Answer(HttpStatusCode.BadRequest, Wire.Error("invalid_request_error", "messages: field required"));
        var body = Wire.Request(Haiku);
        var call = proxy.NewCall(proxy.NewContext(body), body, Haiku, out _, requestId: "req_400");

        using var result = await proxy.Get<UpstreamSender>().SendAsync(call, new StrongBox<int>(0));

        Assert.Equal(400, result.Status);
        Assert.False(result.Retryable);
        Assert.Single(proxy.Upstream.Seen);
        Assert.Equal("invalid_request_error", Assert.Single(await proxy.RecordsAsync("req_400")).ErrorType);
    }

    [Fact]
    public async Task A_malformed_answer_becomes_a_retryable_502_in_the_anthropic_error_shape()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:Fallback:MaxRetriesPerModel"] = "0" });
        proxy.Upstream.Answer(HttpStatusCode.OK, "{\"model\":\"claude-haiku-4-5\",");
        var body = Wire.Request(Haiku);
        var call = proxy.NewCall(proxy.NewContext(body), body, Haiku, out _, requestId: "req_malformed");

        using var result = await proxy.Get<UpstreamSender>().SendAsync(call, new StrongBox<int>(0));

        Assert.Equal(502, result.Status);
        Assert.True(result.FailedRetryably);
        Assert.Contains("\"type\":\"api_error\"", Encoding.UTF8.GetString(result.Body), StringComparison.Ordinal);
        Assert.Equal("malformed_upstream_response", Assert.Single(await proxy.RecordsAsync("req_malformed")).ErrorType);
    }

    [Fact]
    public async Task An_answer_over_MaxAnswerBytes_is_dropped_and_billed_its_worst_case()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:MaxAnswerBytes"] = "1024" });
        proxy.Upstream.Answer(HttpStatusCode.OK, Wire.Message(Haiku, new string('x', 2000))); // ≈ 2.2 KB
        var body = Wire.Request(Haiku);
        var call = proxy.NewCall(proxy.NewContext(body), body, Haiku, out var hold, requestId: "req_large");

        using var result = await proxy.Get<UpstreamSender>().SendAsync(call, new StrongBox<int>(0));

        Assert.Equal(502, result.Status);
        Assert.False(result.Retryable); // another attempt would only do the same
        Assert.Single(proxy.Upstream.Seen);
        var record = Assert.Single(await proxy.RecordsAsync("req_large"));
        Assert.Equal("answer_too_large", record.ErrorType);
        Assert.True(record.UsageEstimated);
        Assert.Equal(1024, record.Usage.OutputTokens); // the request's max_tokens: nothing could be read
        Assert.True(hold.Charged > 0m);
    }

    [Fact]
    public async Task An_unreachable_upstream_throws_after_its_retries_and_every_attempt_is_recorded()
    {
        await using var proxy = await ProxyHarness.StartAsync(new Dictionary<string, string?> { ["ModelMix:Fallback:MaxRetriesPerModel"] = "1" });
        proxy.Upstream.Fail();
        proxy.Upstream.Fail();
        var body = Wire.Request(Haiku);
        var call = proxy.NewCall(proxy.NewContext(body), body, Haiku, out _, requestId: "req_unreachable");
        var attempts = new StrongBox<int>(0);

        await Assert.ThrowsAsync<HttpRequestException>(() => proxy.Get<UpstreamSender>().SendAsync(call, attempts));

        Assert.Equal(2, attempts.Value);
        var records = await proxy.RecordsAsync("req_unreachable");
        Assert.Equal(2, records.Count);
        Assert.All(records, record => Assert.Equal((LedgerStatus.Failed, "upstream_unreachable"), (record.Status, record.ErrorType)));
    }

    [Fact]
    public async Task A_failure_is_answered_502_when_unreachable_and_504_when_timed_out_in_the_clients_dialect()
    {
        await using var proxy = await ProxyHarness.StartAsync();
        var sender = proxy.Get<UpstreamSender>();
        var unreachable = proxy.NewContext();
        var timedOut = proxy.NewContext();

        await sender.WriteFailureAsync(unreachable, new HttpRequestException("refused"), AnthropicDialect.Instance, "req_a");
        await sender.WriteFailureAsync(timedOut, new UpstreamTimeoutException("late", new OperationCanceledException()), AnthropicDialect.Instance, "req_b");

        Assert.Equal(502, unreachable.Response.StatusCode);
        Assert.Contains("could not reach the upstream API: refused", ProxyHarness.ResponseText(unreachable), StringComparison.Ordinal);
        Assert.Equal(504, timedOut.Response.StatusCode);
        Assert.Contains("did not answer within", ProxyHarness.ResponseText(timedOut), StringComparison.Ordinal);
    }
}
