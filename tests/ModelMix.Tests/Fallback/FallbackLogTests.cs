using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using ModelMix.Pipeline;
using ModelMix.Testing;
using ModelMix.Tests.Ledger;

namespace ModelMix.Tests.Fallback;

/// <summary>
/// The stage logs its retries to the logger it is given (the two mutants the fifth session called "logging only":
/// the given logger replaced by <c>NullLogger</c>, and the retry log's state lookup negated, each lose this line).
/// </summary>
public sealed class FallbackLogTests
{
    [Fact]
    public async Task A_retry_is_logged_to_the_given_logger_naming_the_request_and_the_model()
    {
        var inner = new FailsOnceClient();
        var logger = new ListLogger<FallbackChatClient>();
        using var client = new FallbackChatClient(inner, new FallbackOptions { TimeProvider = new FallbackTestTime(), Randomizer = () => 0.5 }, logger);

        var response = await client.GetResponseAsync("hi", new ChatOptions { ModelId = "claude-opus-4-5" }.WithRequestId("r-log"));

        Assert.Equal("ok", response.Text);
        var retry = Assert.Single(logger.Entries, e => e.Event.Id == 5201);
        Assert.Equal(LogLevel.Information, retry.Level);
        Assert.StartsWith("Request r-log: retrying claude-opus-4-5 in ", retry.Message, StringComparison.Ordinal);
        Assert.EndsWith(" after Anthropic5xxException.", retry.Message, StringComparison.Ordinal);
    }
}
