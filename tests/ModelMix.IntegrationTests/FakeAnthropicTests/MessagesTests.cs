using System.Text.Json;
using Anthropic.Models.Messages;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

public sealed class MessagesTests : FakeServerTest
{
    [Fact]
    public async Task Create_answers_with_the_text_fixture_and_reports_its_usage()
    {
        var message = await Client.Messages.Create(Ask());

        Assert.Equal("claude-haiku-4-5-20251001", message.Model.Raw());
        Assert.Matches("^msg_01[1-9A-HJ-NP-Za-km-z]{22}$", message.ID);
        Assert.Equal(StopReason.EndTurn, message.StopReason!.Value());
        Assert.True(message.Content[0].TryPickText(out var text));
        Assert.StartsWith("A model router inspects each request", text!.Text, StringComparison.Ordinal);
        Assert.Equal(19, message.Usage.InputTokens);
        Assert.Equal(33, message.Usage.OutputTokens);
        Assert.Equal(0, message.Usage.CacheCreationInputTokens);
        Assert.Equal(0, message.Usage.CacheReadInputTokens);
        Assert.Equal("standard", message.Usage.ServiceTier!.Raw());
    }

    [Theory]
    [InlineData("claude-haiku-4-5", "claude-haiku-4-5-20251001")]
    [InlineData("claude-sonnet-4-5", "claude-sonnet-4-5-20250929")]
    [InlineData("claude-opus-4-5", "claude-opus-4-5-20251101")]
    [InlineData("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929")]
    [InlineData("claude-future-9", "claude-future-9")]
    public async Task Response_model_is_the_dated_snapshot_of_the_requested_alias(string requested, string answered)
    {
        var message = await Client.Messages.Create(Ask(model: requested));

        Assert.Equal(answered, message.Model.Raw());
    }

    [Fact]
    public async Task Every_reply_gets_a_fresh_message_id()
    {
        var first = await Client.Messages.Create(Ask());
        var second = await Client.Messages.Create(Ask());

        Assert.NotEqual(first.ID, second.ID);
    }

    [Theory]
    [InlineData("messages/response-tool-use.json", 5591, 0, 0, 0)]
    [InlineData("messages/response-cache-write.json", 29, 3150, 2412, 0)]
    [InlineData("messages/response-cache-read.json", 29, 0, 0, 5562)]
    [InlineData("messages/response-cache-read-partial.json", 29, 3150, 0, 2412)]
    public async Task Tool_use_and_cache_fixtures_parse_strictly(string fixture, long input, long write5m, long write1h, long read)
    {
        Server.Enqueue(FakeReply.Message(fixture));

        var message = await Client.Messages.Create(Ask(model: "claude-sonnet-4-5"));

        message.Validate();
        Assert.Equal(StopReason.ToolUse, message.StopReason!.Value());
        Assert.True(message.Content[1].TryPickToolUse(out var tool));
        Assert.Equal("get_weather", tool!.Name);
        Assert.Equal("Paris", tool.Input["city"].GetString());
        Assert.NotNull(tool.Caller);
        Assert.Equal(input, message.Usage.InputTokens);
        Assert.Equal(87, message.Usage.OutputTokens);
        Assert.Equal(write5m + write1h, message.Usage.CacheCreationInputTokens);
        Assert.Equal(write5m, message.Usage.CacheCreation!.Ephemeral5mInputTokens);
        Assert.Equal(write1h, message.Usage.CacheCreation.Ephemeral1hInputTokens);
        Assert.Equal(read, message.Usage.CacheReadInputTokens);
    }

    [Fact]
    public async Task Max_tokens_fixture_reports_the_truncation()
    {
        Server.Enqueue(FakeReply.Message("messages/response-max-tokens.json"));

        var message = await Client.Messages.Create(Ask(model: "claude-opus-4-5"));

        Assert.Equal(StopReason.MaxTokens, message.StopReason!.Value());
        Assert.Equal(64, message.Usage.OutputTokens);
    }

    [Fact]
    public async Task WithUsage_numbers_arrive_as_set()
    {
        Server.Enqueue(FakeReply.Message().WithUsage(
            input: 120, output: 45, cacheWrite5m: 300, cacheWrite1h: 700, cacheRead: 2000,
            serviceTier: "priority", speed: "fast", inferenceGeo: "us"));

        var message = await Client.Messages.Create(Ask());

        var usage = message.Usage;
        Assert.Equal(120, usage.InputTokens);
        Assert.Equal(45, usage.OutputTokens);
        Assert.Equal(1000, usage.CacheCreationInputTokens);
        Assert.Equal(300, usage.CacheCreation!.Ephemeral5mInputTokens);
        Assert.Equal(700, usage.CacheCreation.Ephemeral1hInputTokens);
        Assert.Equal(2000, usage.CacheReadInputTokens);
        Assert.Equal("priority", usage.ServiceTier!.Raw());
        Assert.Equal("fast", usage.Speed!.Raw());
        Assert.Equal("us", usage.InferenceGeo);
    }

    [Fact]
    public async Task WithModel_overrides_the_answered_model()
    {
        Server.Enqueue(FakeReply.Message().WithModel("claude-sonnet-4-5-20250929"));

        var message = await Client.Messages.Create(Ask(model: "claude-haiku-4-5"));

        Assert.Equal("claude-sonnet-4-5-20250929", message.Model.Raw());
    }

    [Fact]
    public async Task Scripted_replies_are_served_in_FIFO_order_then_the_default()
    {
        Server.Enqueue(FakeReply.Message().WithUsage(1, 10));
        Server.Enqueue(FakeReply.Message("messages/response-tool-use.json"));
        Server.Enqueue(FakeReply.Message().WithUsage(3, 30));

        var outputs = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            outputs.Add((await Client.Messages.Create(Ask())).Usage.OutputTokens);
        }

        Assert.Equal([10, 87, 30, 33], outputs);
        Assert.Equal(0, Server.PendingReplies);
    }

    [Fact]
    public async Task SetDefault_replaces_the_answer_when_the_queue_is_empty()
    {
        Server.SetDefault(FakeReply.Message("messages/response-cache-read.json"));

        var message = await Client.Messages.Create(Ask());

        Assert.Equal(5562, message.Usage.CacheReadInputTokens);
    }

    [Fact]
    public async Task Requests_are_recorded_with_headers_and_body()
    {
        await Client.Messages.Create(Ask("Record me"));

        var recorded = Assert.Single(Server.Requests);
        Assert.Equal("POST", recorded.Method);
        Assert.Equal("/v1/messages", recorded.Path);
        // SDK 13.12.0 sends ApiKey as "Authorization: Bearer …", not as x-api-key.
        Assert.Equal("Bearer test-key", recorded.Headers["AUTHORIZATION"]);
        Assert.Null(recorded.Header("x-api-key"));
        Assert.Equal("2026-10-21", recorded.Header("anthropic-version"));
        Assert.Equal("claude-haiku-4-5", recorded.Json!["model"]!.GetValue<string>());
        Assert.Equal(256, recorded.Json["max_tokens"]!.GetValue<long>());
        Assert.Contains("Record me", recorded.Body, StringComparison.Ordinal);
        Assert.Equal(1, Server.MessageCount);
        Assert.Single(Server.MessageRequests);
    }

    [Fact]
    public async Task Reset_forgets_script_and_recordings()
    {
        Server.Enqueue(FakeReply.ServerError());
        await Client.Messages.CountTokens(new MessageCountTokensParams { Model = "claude-haiku-4-5", Messages = [new UserMessageParam("x")] });

        Server.Reset();

        Assert.Empty(Server.Requests);
        Assert.Equal(0, Server.MessageCount);
        Assert.Equal(0, Server.PendingReplies);
        Assert.Equal(33, (await Client.Messages.Create(Ask())).Usage.OutputTokens);
    }

    [Fact]
    public async Task Delay_holds_the_first_byte_on_the_server()
    {
        Server.Enqueue(FakeReply.Message().WithDelay(TimeSpan.FromMilliseconds(200)));

        var started = TimeProvider.System.GetTimestamp();
        await Client.Messages.Create(Ask());

        Assert.True(TimeProvider.System.GetElapsedTime(started) >= TimeSpan.FromMilliseconds(190));
    }

    [Fact]
    public async Task Response_body_is_compact_json_that_keeps_the_fixture_fields()
    {
        using var http = NewRawClient();
        using var request = WireRequests.Messages("""{"model":"claude-haiku-4-5","max_tokens":16,"messages":[]}""");

        using var response = await http.SendAsync(request);

        var body = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(body);
        Assert.Equal("not_available", doc.RootElement.GetProperty("usage").GetProperty("inference_geo").GetString());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("stop_details").ValueKind);
        Assert.DoesNotContain('\n', body);
    }
}
