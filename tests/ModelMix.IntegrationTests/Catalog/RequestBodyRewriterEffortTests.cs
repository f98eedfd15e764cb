using System.Text;
using ModelMix.Server;

namespace ModelMix.IntegrationTests.Catalog;

/// <summary>Setting a routed effort changes <c>output_config</c> only: every other byte stays as the client sent it.</summary>
public sealed class RequestBodyRewriterEffortTests
{
    [Theory]
    [InlineData("""{"model":"m","max_tokens":1,"messages":[]}""", """{"output_config":{"effort":"low"},"model":"m","max_tokens":1,"messages":[]}""")]
    [InlineData("""{"model":"m","output_config":{"format":{"type":"json_schema"}},"messages":[]}""", """{"model":"m","output_config":{"effort":"low","format":{"type":"json_schema"}},"messages":[]}""")]
    [InlineData("""{"model":"m","output_config":{"format":{"effort":"x"},"effort":"max"},"messages":[]}""", """{"model":"m","output_config":{"format":{"effort":"x"},"effort":"low"},"messages":[]}""")]
    [InlineData("""{"model":"m","output_config":{},"messages":[]}""", """{"model":"m","output_config":{"effort":"low"},"messages":[]}""")]
    [InlineData("""{"model":"m","output_config":null,"messages":[]}""", """{"model":"m","output_config":{"effort":"low"},"messages":[]}""")]
    [InlineData("""{"messages":[{"role":"user","content":"output_config"}],"model":"m"}""", """{"output_config":{"effort":"low"},"messages":[{"role":"user","content":"output_config"}],"model":"m"}""")]
    public void SetEffort_changes_only_output_config(string body, string expected)
    {
        var result = RequestBodyRewriter.SetEffort(Encoding.UTF8.GetBytes(body), "low");

        Assert.Equal(expected, Encoding.UTF8.GetString(result));
    }
}
