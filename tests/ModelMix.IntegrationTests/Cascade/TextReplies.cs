using System.Text.Json.Nodes;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Cascade;

/// <summary>
/// FakeAnthropic replies that carry a chosen answer text (a JSON classification, an answer with its confidence, a
/// verifier's rating). FakeReply serves fixture files and has no <c>WithText</c>, so each text is written as a copy
/// of the shared <c>messages/response-text.json</c> (the exact Anthropic message format) with only the text changed,
/// into a temp folder, and served by its absolute path (which <see cref="SharedFixtures.Read"/> accepts as is).
/// </summary>
internal sealed class TextReplies : IDisposable
{
    private readonly TempDirectory _dir = new();
    private int _count;

    /// <summary>A non-streaming 200 reply whose only content block is <paramref name="text"/>.</summary>
    public FakeReply Message(string text)
    {
        var message = JsonNode.Parse(SharedFixtures.Read(FakeReply.DefaultMessageFixture))!.AsObject();
        message["content"]![0]!["text"] = text;
        var path = Path.Combine(_dir.Path, $"reply-{Interlocked.Increment(ref _count)}.json");
        File.WriteAllText(path, message.ToJsonString());
        return FakeReply.Message(path);
    }

    public void Dispose() => _dir.Dispose();
}
