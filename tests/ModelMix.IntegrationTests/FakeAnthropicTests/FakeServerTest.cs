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
        Client = NewClient("test-key", Capture);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        Capture.Dispose();
    }

    /// <summary>A strict SDK client; a handler instance can serve only one client (the SDK enforces it).</summary>
    protected AnthropicClient NewClient(string apiKey) => NewClient(apiKey, capture: null);

    private AnthropicClient NewClient(string apiKey, ResponseCapture? capture) => new(new ClientOptions
    {
        ApiKey = apiKey,
        BaseUrl = Server.BaseUrl.ToString(),
        MaxRetries = 0,
        ResponseValidation = true,
        Handlers = capture is null ? [] : [capture],
    });

    protected static MessageCreateParams Ask(string text = "What is a model router?", string model = "claude-haiku-4-5") => new()
    {
        Model = model,
        MaxTokens = 256,
        Messages = [new UserMessageParam(text)],
    };

    protected HttpClient NewRawClient() => new() { BaseAddress = Server.BaseUrl };
}
