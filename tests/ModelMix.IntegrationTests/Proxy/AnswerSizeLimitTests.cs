using System.Net;
using System.Text;
using FakeAnthropic;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// An upstream answer larger than ModelMix:MaxAnswerBytes (issue 20 §11: a 200 MB answer took the proxy from 122 MB to
/// 833 MB) fails its attempt cleanly — a 502, or an error event ending the stream — and is recorded with an estimate;
/// the proxy never holds more than the limit of it.
/// </summary>
public sealed class AnswerSizeLimitTests
{
    private const string Body = """{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}""";

    [Fact]
    public async Task An_oversized_buffered_answer_fails_with_a_502_and_is_recorded_once_without_a_retry()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:MaxAnswerBytes"] = "65536");
        harness.Fake.SetDefault(FakeReply.Default.WithPadding(8 * 1024 * 1024)); // 8 MB of text, 128× the limit
        using var http = harness.Http();

        using var response = await http.PostAsync("v1/messages", new StringContent(Body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("MaxAnswerBytes (65536 bytes)", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(1, harness.Fake.MessageCount); // the same upstream would answer the same: no retry
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.Equal((LedgerStatus.Error, "answer_too_large", true), (record.Status, record.ErrorType, record.UsageEstimated));
        Assert.Equal(100L, record.Usage.OutputTokens); // billed its worst case: max_tokens
    }

    [Theory]
    [InlineData("v1/messages")]
    [InlineData("v1/chat/completions")]
    public async Task An_oversized_stream_event_ends_the_stream_with_an_error_event(string path)
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["ModelMix:MaxAnswerBytes"] = "65536");
        harness.Fake.SetDefault(FakeReply.Default.WithPadding(8 * 1024 * 1024));
        using var http = harness.Http();

        using var response = await http.PostAsync(path, new StringContent(Body.Replace("\"max_tokens\":100", "\"max_tokens\":100,\"stream\":true", StringComparison.Ordinal), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Contains("larger than ModelMix:MaxAnswerBytes (65536 bytes)", text, StringComparison.Ordinal);
        Assert.True(text.Length < 65536 * 2, $"the client got {text.Length} characters: the oversized event was relayed");
        var record = Assert.Single(await harness.ReadLedgerAsync());
        Assert.Equal((LedgerStatus.Error, "answer_too_large", true), (record.Status, record.ErrorType, record.UsageEstimated));
    }
}
