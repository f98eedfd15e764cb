using System.Text;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Proxy;

/// <summary>The routing text a Messages body gives the routing rules: the system prompt and the last user message, joined by newlines.</summary>
public sealed class MessagesRequestFeaturesTests
{
    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"Hello there"}]}""", "Hello there")]
    [InlineData("""{"system":"Be brief.","messages":[{"role":"user","content":"Hi"}]}""", "Be brief.\nHi")]
    [InlineData("""{"system":[{"type":"text","text":"A"},{"type":"text","text":"B"}],"messages":[{"role":"user","content":[{"type":"text","text":"C"}]}]}""", "A\nB\n\nC")]
    [InlineData("""{"system":"","messages":[{"role":"user","content":"U"}]}""", "U")]
    [InlineData("""{"system":[{"type":"text","text":"A"},{"type":"text","text":""}],"messages":[]}""", "A\n")]
    [InlineData("""{"messages":[{"role":"user","content":"first"},{"role":"assistant","content":"reply"},{"role":"user","content":[{"type":"image","source":{}},{"type":"text","text":"last"}]}]}""", "last")]
    [InlineData("""{"messages":[{"role":"assistant","content":"only the model spoke"}]}""", "")]
    public void The_text_is_the_system_prompt_and_the_last_user_message(string fields, string expected)
    {
        var body = Encoding.UTF8.GetBytes("""{"model":"auto","max_tokens":16,""" + fields[1..]);

        Assert.True(MessagesRequest.TryParse(body, out var request, out var error), error);
        Assert.Equal(expected, request!.Features.Text.ToString());
        Assert.Equal("auto", request.Model);
        Assert.Equal("auto", request.Features.RequestedModel);
    }
}
