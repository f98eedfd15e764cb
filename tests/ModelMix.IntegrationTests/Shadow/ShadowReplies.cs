using System.Text.Json.Nodes;
using FakeAnthropic;

namespace ModelMix.IntegrationTests.Shadow;

/// <summary>FakeAnthropic message replies with a chosen answer text (a fixture copy in a temp folder, read by absolute path).</summary>
internal sealed class ShadowReplies : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "modelmix-shadow-" + Guid.NewGuid().ToString("N"));
    private int _next;

    public ShadowReplies() => Directory.CreateDirectory(_dir);

    public FakeReply Text(string text)
    {
        var message = JsonNode.Parse(SharedFixtures.Read("messages/response-text.json"))!.AsObject();
        message["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = text });
        var path = Path.Combine(_dir, $"reply-{Interlocked.Increment(ref _next)}.json");
        File.WriteAllText(path, message.ToJsonString());
        return FakeReply.Message(path);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
