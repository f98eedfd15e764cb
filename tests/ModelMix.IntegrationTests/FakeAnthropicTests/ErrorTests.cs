using Anthropic.Exceptions;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

public sealed class ErrorTests : FakeServerTest
{
    [Fact]
    public async Task RateLimited_surfaces_as_the_SDK_rate_limit_exception_with_retry_after()
    {
        Server.Enqueue(FakeReply.RateLimited(TimeSpan.FromSeconds(14)));

        var ex = await Assert.ThrowsAsync<AnthropicRateLimitException>(() => Client.Messages.Create(Ask()));

        Assert.Equal(429, (int)ex.StatusCode);
        Assert.Matches("^req_011C[1-9A-HJ-NP-Za-km-z]{20}$", ex.RequestID);
        Assert.Equal("rate_limit_error", ex.Type!.Raw());
        Assert.StartsWith("This request would exceed the rate limit", ex.ApiMessage, StringComparison.Ordinal);
        var headers = Capture.Last.Headers;
        Assert.Equal(TimeSpan.FromSeconds(14), headers.RetryAfter!.Delta);
        Assert.Equal("0", headers.GetValues("anthropic-ratelimit-input-tokens-remaining").Single());
        Assert.Equal("50000", headers.GetValues("anthropic-ratelimit-tokens-limit").Single());
    }

    [Fact]
    public async Task Retry_after_is_rounded_up_to_whole_seconds()
    {
        Server.Enqueue(FakeReply.RateLimited(TimeSpan.FromMilliseconds(1500)));

        await Assert.ThrowsAsync<AnthropicRateLimitException>(() => Client.Messages.Create(Ask()));

        Assert.Equal(TimeSpan.FromSeconds(2), Capture.Last.Headers.RetryAfter!.Delta);
    }

    [Fact]
    public async Task Overloaded_surfaces_as_AnthropicOverloadedException_with_should_retry()
    {
        Server.Enqueue(FakeReply.Overloaded());

        var ex = await Assert.ThrowsAsync<AnthropicOverloadedException>(() => Client.Messages.Create(Ask()));

        Assert.Equal(529, (int)ex.StatusCode);
        Assert.Equal("Overloaded", ex.ApiMessage);
        Assert.Equal("true", Capture.Last.Headers.GetValues("x-should-retry").Single());
    }

    [Fact]
    public async Task ServerError_surfaces_as_a_5xx_exception()
    {
        Server.Enqueue(FakeReply.ServerError());

        var ex = await Assert.ThrowsAnyAsync<Anthropic5xxException>(() => Client.Messages.Create(Ask()));

        Assert.Equal(500, (int)ex.StatusCode);
        Assert.Equal("api_error", ex.Type!.Raw());
        Assert.Equal("Internal server error", ex.ApiMessage);
        Assert.Equal("true", Capture.Last.Headers.GetValues("x-should-retry").Single());
    }

    [Fact]
    public async Task Errors_also_end_a_streaming_request_before_any_event()
    {
        Server.Enqueue(FakeReply.Overloaded());

        await Assert.ThrowsAsync<AnthropicOverloadedException>(async () =>
        {
            await foreach (var ev in Client.Messages.CreateStreaming(Ask()))
            {
                _ = ev;
            }
        });
    }

    [Fact]
    public async Task Custom_error_uses_the_documented_shape_and_the_header_request_id()
    {
        Server.Enqueue(FakeReply.Error(404, "not_found_error", "model: claude-haiku-4-6"));

        var ex = await Assert.ThrowsAsync<AnthropicNotFoundException>(() => Client.Messages.Create(Ask()));

        Assert.Equal("model: claude-haiku-4-6", ex.ApiMessage);
        Assert.Equal("error", ex.Body.GetProperty("type").GetString());
        Assert.Equal(ex.RequestID, ex.Body.GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Malformed_body_throws_in_the_SDK()
    {
        Server.Enqueue(FakeReply.Message().WithMalformedBody());

        // SDK quirk: a non-JSON 200 body surfaces as a raw System.Text.Json.JsonException.
        await Assert.ThrowsAnyAsync<System.Text.Json.JsonException>(() => Client.Messages.Create(Ask()));
    }

    [Fact]
    public async Task Dropped_connection_throws_in_the_SDK()
    {
        Server.Enqueue(FakeReply.Message().WithDropConnection());

        await Assert.ThrowsAsync<AnthropicIOException>(() => Client.Messages.Create(Ask()));

        Assert.Equal(1, Server.MessageCount);
    }

    [Fact]
    public void Cutting_applies_only_to_streams()
    {
        Assert.Throws<InvalidOperationException>(() => FakeReply.Message().WithCutAfterEvents(1));
        Assert.Throws<InvalidOperationException>(() => FakeReply.Overloaded().WithCutAfterEvents(1));
    }
}
