using System.Text;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>
/// The routing text a Messages body gives the routing rules: the newest user turn a person wrote, its text blocks joined
/// by newlines — not the system prompt (since 0db8d30, docs/routing.md: an agent's long fixed system prompt would
/// otherwise match the same rule on every request).
/// </summary>
public sealed class MessagesRequestFeaturesTests
{
    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"Hello there"}]}""", "Hello there")]
    [InlineData("""{"system":"Be brief.","messages":[{"role":"user","content":"Hi"}]}""", "Hi")]
    [InlineData("""{"system":[{"type":"text","text":"A"},{"type":"text","text":"B"}],"messages":[{"role":"user","content":[{"type":"text","text":"C"}]}]}""", "C")]
    [InlineData("""{"system":"","messages":[{"role":"user","content":"U"}]}""", "U")]
    [InlineData("""{"system":[{"type":"text","text":"A"},{"type":"text","text":""}],"messages":[]}""", "")]
    [InlineData("""{"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"reply"},{"role":"user","content":[{"type":"image","source":{}},{"type":"text","text":"last"}]}]}""", "last")]
    [InlineData("""{"messages":[{"role":"assistant","content":"only the model spoke"}]}""", "")]
    public void The_text_is_the_newest_user_turn_not_the_system_prompt(string fields, string expected)
    {
        var body = Encoding.UTF8.GetBytes("""{"model":"auto","max_tokens":16,""" + fields[1..]);

        Assert.True(MessagesRequest.TryParse(body, out var request, out var error), error);
        Assert.Equal(expected, request!.Features.Text.ToString());
        Assert.Equal("auto", request.Model);
        Assert.Equal("auto", request.Features.RequestedModel);
    }
}
