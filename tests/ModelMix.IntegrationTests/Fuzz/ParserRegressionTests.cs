using System.Text;
using ModelMix.Server;
using ModelMix.Server.OpenAi;

namespace ModelMix.IntegrationTests.Fuzz;

/// <summary>Bodies the fuzz tests found that made the parsers throw (a 500 at the proxy) before the fixes.</summary>
public sealed class ParserRegressionTests
{
    [Theory]
    [InlineData("{\"model\":\"\\ud800\",\"max_tokens\":10,\"messages\":[]}")]
    [InlineData("{\"\\udfff\":1,\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[]}")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"system\":\"\\ud83d\",\"messages\":[]}")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\\udc00x\"}]}]}")]
    public void Messages_parser_refuses_an_unpaired_surrogate_escape_instead_of_throwing(string body)
    {
        Assert.False(MessagesRequest.TryParse(Encoding.UTF8.GetBytes(body), out var request, out var error));
        Assert.Null(request);
        Assert.Contains("unpaired UTF-16 surrogate", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"model\":7,\"model\":\"auto\",\"max_tokens\":10,\"messages\":[]}")]
    [InlineData("{\"model\":\"auto\",\"max_tokens\":10,\"model\":\"claude-haiku-4-5\",\"messages\":[]}")]
    public void Messages_parser_refuses_a_duplicate_top_level_model_the_rewriter_would_not_replace(string body)
    {
        Assert.False(MessagesRequest.TryParse(Encoding.UTF8.GetBytes(body), out _, out var error));
        Assert.Equal("model: the field appears more than once", error);
    }

    [Theory]
    [InlineData("{\"model\":\"auto\",\"max_tokens\":10,\"messages\":[],\"max_tokens\":100000}", "max_tokens")]
    [InlineData("{\"stream\":false,\"model\":\"auto\",\"max_tokens\":10,\"messages\":[],\"stream\":true}", "stream")]
    [InlineData("{\"model\":\"auto\",\"max_tokens\":10,\"messages\":[],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "messages")]
    [InlineData("{\"model\":\"auto\",\"max_tokens\":10,\"system\":\"a\",\"messages\":[],\"system\":\"b\"}", "system")]
    [InlineData("{\"model\":\"auto\",\"max_tokens\":10,\"messages\":[],\"str\\u0065am\":true,\"stream\":false}", "stream")] // escaped second spelling
    [InlineData("{\"model\":\"auto\",\"max_tokens\":10,\"messages\":[],\"stream\":false,\"str\\u0065am\":true}", "stream")] // escaped first spelling
    public void Messages_parser_refuses_any_duplicate_top_level_field(string body, string field)
    {
        Assert.False(MessagesRequest.TryParse(Encoding.UTF8.GetBytes(body), out var request, out var error));
        Assert.Null(request);
        Assert.Equal($"{field}: the field appears more than once", error);
    }

    [Fact]
    public void A_duplicate_among_many_top_level_fields_is_found_without_quadratic_work()
    {
        // 20 distinct fields (past the pairwise limit, so the set path runs), then the 3rd repeated at the end.
        var fields = string.Concat(Enumerable.Range(0, 20).Select(i => $"\"f{i}\":{i},"));
        var unique = "{" + fields + "\"model\":\"auto\",\"max_tokens\":10,\"messages\":[]}";
        var repeated = "{" + fields + "\"model\":\"auto\",\"max_tokens\":10,\"messages\":[],\"f2\":0}";

        Assert.True(MessagesRequest.TryParse(Encoding.UTF8.GetBytes(unique), out _, out _));
        Assert.False(MessagesRequest.TryParse(Encoding.UTF8.GetBytes(repeated), out _, out var error));
        Assert.Equal("f2: the field appears more than once", error);
    }

    [Fact]
    public void A_model_key_nested_deeper_is_not_a_duplicate()
    {
        var body = "{\"model\":\"auto\",\"max_tokens\":10,\"metadata\":{\"model\":1},\"messages\":[]}"u8.ToArray();
        Assert.True(MessagesRequest.TryParse(body, out var request, out _));
        ParserFuzzTests.CheckRewrite(body);
        Assert.Equal("auto", request!.Model);
    }

    [Theory]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}")]
    [InlineData("{\"model\":\"claude-haiku-4-5\",\"\\udc00\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")]
    public void OpenAi_translator_refuses_an_unpaired_surrogate_escape_with_its_own_exception(string body)
    {
        var exception = Assert.Throws<OpenAiRequestException>(() => OpenAiRequestTranslator.Translate(Encoding.UTF8.GetBytes(body), dropSamplingParameters: false));
        Assert.Contains("unpaired UTF-16 surrogate", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tools", "tools[0].function.parameters")]
    [InlineData("response_format", "response_format.json_schema.schema")]
    public void OpenAi_translator_refuses_a_schema_nested_too_deeply_with_its_own_exception(string field, string param)
    {
        var schema = string.Concat(Enumerable.Repeat("{\"properties\":{\"a\":", 40)) + "{}" + string.Concat(Enumerable.Repeat("}}", 40));
        var value = field == "tools"
            ? $"[{{\"type\":\"function\",\"function\":{{\"name\":\"f\",\"parameters\":{schema}}}}}]"
            : $"{{\"type\":\"json_schema\",\"json_schema\":{{\"name\":\"r\",\"schema\":{schema}}}}}";
        var body = $"{{\"model\":\"claude-haiku-4-5\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"{field}\":{value}}}";

        var exception = Assert.Throws<OpenAiRequestException>(() => OpenAiRequestTranslator.Translate(Encoding.UTF8.GetBytes(body), dropSamplingParameters: false));
        Assert.Equal(param, exception.Param);
    }

    [Fact]
    public void OpenAi_translator_keeps_a_schema_within_the_depth_limit()
    {
        var schema = string.Concat(Enumerable.Repeat("{\"properties\":{\"a\":", 20)) + "{}" + string.Concat(Enumerable.Repeat("}}", 20));
        var body = $"{{\"model\":\"claude-haiku-4-5\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}],\"tools\":[{{\"type\":\"function\",\"function\":{{\"name\":\"f\",\"parameters\":{schema}}}}}]}}";

        ParserFuzzTests.CheckTranslation(Encoding.UTF8.GetBytes(body));
    }
}
