using Anthropic;
using Anthropic.Core;
using Anthropic.Models.Messages;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.FakeAnthropicTests;

/// <summary>Starts a fresh fake server and a strict official SDK client for every test.</summary>
public abstract class FakeServerTest : IAsyncLifetime
{
    protected FakeAnthropicServer Server { get; private set; } = null!;

    protected AnthropicClient Client { get; private set; } = null!;

    internal ResponseCapture Capture { get; } = new();

    public async Task InitializeAsync()
    {
        Server = await FakeAnthropicServer.StartAsync();
        Client = NewClient("test-key");
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        Capture.Dispose();
    }

    protected AnthropicClient NewClient(string apiKey) => new(new ClientOptions
    {
        ApiKey = apiKey,
        BaseUrl = Server.BaseUrl.ToString(),
        MaxRetries = 0,
        ResponseValidation = true,
        Handlers = [Capture],
    });

    protected static MessageCreateParams Ask(string text = "What is a model router?", string model = "claude-haiku-4-5") => new()
    {
        Model = model,
        MaxTokens = 256,
        Messages = [new UserMessageParam(text)],
    };

    protected HttpClient NewRawClient() => new() { BaseAddress = Server.BaseUrl };
}
