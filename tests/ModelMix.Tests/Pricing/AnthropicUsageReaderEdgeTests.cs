using System.Text;
using System.Text.Json;
using ModelMix.Pricing;
using SdkMessage = Anthropic.Models.Messages.Message;

namespace ModelMix.Tests.Pricing;

/// <summary>
/// Written from the survivors of the fourth session's mutation run over pricing (docs/testing.md): the usage reader
/// skips a value of an unexpected kind whole (an array, an object, null) and goes on reading the fields after it, so a
/// misshapen field loses that field alone; the SDK path reads a cache total without a breakdown and a breakdown
/// without a total; the refusal of a non-object says what it got.
/// </summary>
public sealed class AnthropicUsageReaderEdgeTests
{
    [Theory]
    [InlineData("""{"cache_creation":null,"output_tokens":9}""")]
    [InlineData("""{"cache_creation":[{"ephemeral_5m_input_tokens":5}],"output_tokens":9}""")]
    [InlineData("""{"server_tool_use":null,"output_tokens":9}""")]
    [InlineData("""{"server_tool_use":[{"web_fetch_requests":5}],"output_tokens":9}""")]
    [InlineData("""{"input_tokens":{"x":1},"output_tokens":9}""")]
    [InlineData("""{"service_tier":{"x":"batch"},"output_tokens":9}""")]
    [InlineData("""{"future_field":{"x":[1,2]},"output_tokens":9}""")]
    public void A_value_of_an_unexpected_kind_is_skipped_whole_and_the_next_field_is_read(string json)
    {
        var usage = FromJson(json);

        Assert.Equal(new TokenUsage(0, 9), usage);
        Assert.Equal(new TokenUsage(0, 9), Read(json));
    }

    [Fact]
    public void An_unknown_object_inside_the_cache_breakdown_is_skipped_whole()
    {
        // 5 + 7 = 12 = the total: the breakdown stands (a lost 1h count would put all 12 on the 5-minute rate).
        var usage = FromJson("""{"cache_creation":{"ephemeral_5m_input_tokens":5,"other":{"x":1},"ephemeral_1h_input_tokens":7},"cache_creation_input_tokens":12}""");

        Assert.Equal((5L, 7L), (usage.CacheWrite5mTokens, usage.CacheWrite1hTokens));
    }

    [Fact]
    public void An_unknown_object_inside_server_tool_use_is_skipped_whole()
    {
        var usage = FromJson("""{"server_tool_use":{"code_execution_requests":{"x":1},"web_fetch_requests":2},"output_tokens":9}""");

        Assert.Equal((2L, 9L), (usage.WebFetchRequests, usage.OutputTokens));
    }

    [Fact]
    public void A_usage_that_is_not_an_object_is_refused_saying_what_it_is()
    {
        using var document = JsonDocument.Parse("5");
        var fromJson = Assert.Throws<ArgumentException>(() => AnthropicUsage.FromJson(document.RootElement));
        Assert.StartsWith("A usage object must be a JSON object, not Number.", fromJson.Message, StringComparison.Ordinal);

        var reader = new Utf8JsonReader("[1]"u8);
        reader.Read();
        string? message = null;
        try
        {
            AnthropicUsage.Read(ref reader);
        }
        catch (ArgumentException error)
        {
            message = error.Message;
        }

        Assert.StartsWith("A usage object must be a JSON object, not StartArray.", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sdk_usage_with_a_cache_total_and_no_breakdown_puts_it_on_the_5_minute_rate()
    {
        var usage = FromSdk("""{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":100,"cache_read_input_tokens":0}""");

        Assert.Equal((100L, 0L), (usage.CacheWrite5mTokens, usage.CacheWrite1hTokens));
    }

    [Fact]
    public void Sdk_usage_with_a_breakdown_and_no_total_keeps_the_breakdown()
    {
        var json = """{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":null,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":30,"ephemeral_1h_input_tokens":20}}""";

        var usage = FromSdk(json);

        Assert.Equal((30L, 20L), (usage.CacheWrite5mTokens, usage.CacheWrite1hTokens));
        Assert.Equal(FromJson(json), usage); // as the wire reader reads it
    }

    private static TokenUsage FromJson(string json)
    {
        using var document = JsonDocument.Parse(json);
        return AnthropicUsage.FromJson(document.RootElement);
    }

    private static TokenUsage Read(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        return AnthropicUsage.Read(ref reader);
    }

    private static TokenUsage FromSdk(string usage)
    {
        var message = JsonSerializer.Deserialize<SdkMessage>(
            $$"""{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5-20251001","content":[],"stop_reason":"end_turn","stop_sequence":null,"usage":{{usage}}}""")!;
        return AnthropicUsage.FromSdk(message.Usage);
    }
}
