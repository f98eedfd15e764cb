using Anthropic.Models.Messages;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// What <c>modelmix serve</c> logs unless configured otherwise: its own lines and ASP.NET Core's warnings, nothing per
/// request (ProxyApplication.LoggingDefaults); configuration can turn ASP.NET Core's request log back on.
/// </summary>
public sealed class ProxyLoggingTests
{
    private static readonly MessageCreateParams Ask = new()
    {
        Model = "claude-haiku-4-5",
        MaxTokens = 64,
        Messages = [new UserMessageParam("Which tier should summarise this ticket?")],
    };

    [Fact]
    public async Task Nothing_is_logged_per_request_by_default()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var client = harness.Client();

        await client.Messages.Create(Ask);
        await client.Messages.Create(Ask);

        var lines = harness.Logs.Lines;
        Assert.Contains(lines, line => line.StartsWith("Information ModelMix.Server.ProxyStartup: ModelMix proxy forwarding to", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, line => line.StartsWith("Information Microsoft.AspNetCore.", StringComparison.Ordinal));
        // Off at every level, not only Information: while this logger is enabled at all, ASP.NET Core starts an
        // Activity and a log scope for every request.
        var loggers = harness.Services.GetRequiredService<ILoggerFactory>();
        Assert.False(loggers.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Critical));
        Assert.True(loggers.CreateLogger("Microsoft.AspNetCore.Server.Kestrel").IsEnabled(LogLevel.Warning));
        Assert.False(loggers.CreateLogger("Microsoft.AspNetCore.Routing.EndpointMiddleware").IsEnabled(LogLevel.Information));
    }

    [Fact]
    public async Task Configuration_turns_the_request_log_back_on()
    {
        await using var harness = await ProxyHarness.StartAsync(settings => settings["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information");
        using var client = harness.Client();

        await client.Messages.Create(Ask);

        // Hosting logs "Request finished" once the response is done, which can be just after the client has it.
        static bool Finished(string line) => line.StartsWith("Information Microsoft.AspNetCore.Hosting.Diagnostics: Request finished HTTP/1.1 POST", StringComparison.Ordinal);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!harness.Logs.Lines.Any(Finished) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Contains(harness.Logs.Lines, Finished);
    }
}
