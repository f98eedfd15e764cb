using ModelMix.Cli;
using ModelMix.Pricing;

namespace ModelMix.Tests.Cli;

public sealed class UsageExportReaderTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Jsonl_with_flat_columns_reads_every_field_and_skips_blank_lines()
    {
        var path = _folder.Write("usage.jsonl", """
            {"model":"claude-haiku-4-5","input_tokens":100,"output_tokens":20,"cache_read_input_tokens":7,"service_tier":"batch","speed":"standard","inference_geo":"us","timestamp":"2026-03-01T10:00:00Z","cost_usd":0.0012}

            {"MODEL":"claude-sonnet-4-5","Input_Tokens":"5","output_tokens":1,"cost_usd":null}
            """);

        var rows = UsageExportReader.Read(path).ToList();

        Assert.Equal(2, rows.Count);
        Assert.Equal("claude-haiku-4-5", rows[0].Model);
        Assert.Equal(new TokenUsage(100, 20, CacheReadTokens: 7, ServiceTier: ServiceTier.Batch, InferenceGeo: "us"), rows[0].Usage);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero), rows[0].Timestamp);
        Assert.Equal(0.0012m, rows[0].RecordedCost);
        Assert.Equal(new TokenUsage(5, 1), rows[1].Usage);
        Assert.Null(rows[1].RecordedCost);
        Assert.Null(rows[1].Timestamp);
    }

    [Fact]
    public void Jsonl_with_the_api_usage_object_reads_the_cache_creation_breakdown()
    {
        var path = _folder.Write("messages.jsonl", """
            {"model":"claude-sonnet-4-5-20250929","timestamp":"2026-03-02","usage":{"input_tokens":10,"output_tokens":30,"cache_creation_input_tokens":300,"cache_read_input_tokens":50,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"service_tier":"standard"}}
            {"model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":40}}
            """);

        var rows = UsageExportReader.Read(path).ToList();

        Assert.Equal(new TokenUsage(10, 30, 100, 200, 50), rows[0].Usage);
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero), rows[0].Timestamp); // no offset = UTC
        Assert.Equal(new TokenUsage(1, 2, CacheWrite5mTokens: 40), rows[1].Usage); // no breakdown: 5-minute writes
    }

    [Fact]
    public void Server_tool_uses_are_read_from_the_usage_object_and_from_flat_columns()
    {
        var jsonl = _folder.Write("search.jsonl", """
            {"model":"claude-haiku-4-5","usage":{"input_tokens":1000,"output_tokens":500,"server_tool_use":{"web_search_requests":1000,"web_fetch_requests":2}}}
            {"model":"claude-haiku-4-5","input_tokens":10,"output_tokens":5,"web_search_requests":3}
            """);
        var csv = _folder.Write("search.csv", "model,input_tokens,output_tokens,web_search_requests,web_fetch_requests\nclaude-haiku-4-5,10,5,4,1\n");

        var rows = UsageExportReader.Read(jsonl).Concat(UsageExportReader.Read(csv)).ToList();

        Assert.Equal(new TokenUsage(1000, 500, WebSearchRequests: 1000, WebFetchRequests: 2), rows[0].Usage);
        Assert.Equal(new TokenUsage(10, 5, WebSearchRequests: 3), rows[1].Usage);
        Assert.Equal(new TokenUsage(10, 5, WebSearchRequests: 4, WebFetchRequests: 1), rows[2].Usage);
    }

    [Theory]
    [InlineData("\"server_tool_use\":{\"web_search_requests\":\"9\"}", "usage.server_tool_use.web_search_requests")]
    [InlineData("\"input_tokens\":\"12\"", "usage.input_tokens")]
    [InlineData("\"output_tokens\":1.5", "usage.output_tokens")]
    [InlineData("\"cache_read_input_tokens\":-3", "usage.cache_read_input_tokens")]
    [InlineData("\"cache_creation\":{\"ephemeral_1h_input_tokens\":\"x\"}", "usage.cache_creation.ephemeral_1h_input_tokens")]
    public void A_usage_object_count_that_is_not_a_non_negative_integer_is_refused_not_read_as_zero(string field, string named)
    {
        var path = _folder.Write("bad.jsonl", "{\"model\":\"claude-haiku-4-5\",\"usage\":{" + field + "}}\n");

        var error = Assert.Throws<FormatException>(() => UsageExportReader.Read(path).ToList());

        Assert.Contains($"{path}:1:", error.Message);
        Assert.Contains(named, error.Message);
    }

    [Fact]
    public void Csv_with_a_header_in_any_case_reads_the_rows()
    {
        var path = _folder.Write("usage.csv", """
            Timestamp,MODEL, Input_Tokens ,output_tokens,CACHE_CREATION_INPUT_TOKENS,cache_read_input_tokens,Service_Tier,cost_usd
            2026-03-01T00:00:00Z,claude-haiku-4-5,1000,200,30,40,Batch,0.5
            2026-03-01T01:00:00+01:00,claude-opus-4-6,1,2,,,,
            """);

        var rows = UsageExportReader.Read(path).ToList();

        Assert.Equal(2, rows.Count);
        Assert.Equal(new TokenUsage(1000, 200, CacheWrite5mTokens: 30, CacheReadTokens: 40, ServiceTier: ServiceTier.Batch), rows[0].Usage);
        Assert.Equal(0.5m, rows[0].RecordedCost);
        Assert.Equal(new TokenUsage(1, 2), rows[1].Usage);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), rows[1].Timestamp);
        Assert.Null(rows[1].RecordedCost);
    }

    [Theory]
    [InlineData("300", "", "", 300, 0)]        // no split: every write is a 5-minute write
    [InlineData("300", "100", "200", 100, 200)] // split that adds up
    [InlineData("", "0", "200", 0, 200)]        // split without a total
    [InlineData("0", "100", "200", 100, 200)]   // a zero total means "not given"
    public void Cache_creation_split_rules(string total, string write5m, string write1h, long expected5m, long expected1h)
    {
        var path = _folder.Write("split.csv", $"model,cache_creation_input_tokens,cache_write_5m_tokens,cache_write_1h_tokens\nclaude-haiku-4-5,{total},{write5m},{write1h}\n");

        var usage = Assert.Single(UsageExportReader.Read(path)).Usage;

        Assert.Equal((expected5m, expected1h), (usage.CacheWrite5mTokens, usage.CacheWrite1hTokens));
    }

    [Fact]
    public void A_cache_creation_total_that_disagrees_with_its_split_is_refused()
    {
        var path = _folder.Write("split.csv", "model,cache_creation_input_tokens,cache_write_5m_tokens,cache_write_1h_tokens\nclaude-haiku-4-5,300,100,100\n");

        var error = Assert.Throws<FormatException>(() => UsageExportReader.Read(path).ToList());

        Assert.Contains($"{path}:2:", error.Message);
        Assert.Contains("cache_creation_input_tokens (300) differs", error.Message);
    }

    [Theory]
    [InlineData(".csv", "model,input_tokens\nclaude-haiku-4-5,10\nclaude-haiku-4-5,ten\n", 3)]
    [InlineData(".jsonl", "{\"model\":\"claude-haiku-4-5\",\"input_tokens\":10}\n\n{\"model\":\"claude-haiku-4-5\",\"input_tokens\":\"ten\"}\n", 3)]
    public void A_bad_integer_names_the_file_line_and_column(string extension, string content, int line)
    {
        var path = _folder.Write("bad" + extension, content);

        var error = Assert.Throws<FormatException>(() => UsageExportReader.Read(path).ToList());

        Assert.Equal($"{path}:{line}: input_tokens must be a non-negative integer, got 'ten'", error.Message);
    }

    [Theory]
    [InlineData("usage.csv", "input_tokens,output_tokens\n10,20\n")]
    [InlineData("usage.csv", "model,input_tokens\n,20\n")]
    [InlineData("usage.jsonl", "{\"input_tokens\":10}\n")]
    public void A_missing_or_empty_model_column_is_refused(string name, string content)
    {
        var path = _folder.Write(name, content);

        var error = Assert.Throws<FormatException>(() => UsageExportReader.Read(path).ToList());

        Assert.Contains($"{path}:", error.Message);
        Assert.Contains("'model' column is missing or empty", error.Message);
    }

    [Fact]
    public void An_unknown_service_tier_or_speed_is_refused()
    {
        var tier = _folder.Write("tier.csv", "model,service_tier\nclaude-haiku-4-5,flex\n");
        var speed = _folder.Write("speed.jsonl", "{\"model\":\"claude-haiku-4-5\",\"speed\":\"turbo\"}\n");

        Assert.Contains("service_tier 'flex' is not standard, batch or priority", Assert.Throws<FormatException>(() => UsageExportReader.Read(tier).ToList()).Message);
        Assert.Contains("speed 'turbo' is not standard or fast", Assert.Throws<FormatException>(() => UsageExportReader.Read(speed).ToList()).Message);
    }

    [Theory]
    [InlineData("model,input_tokens,timestamp\nclaude-haiku-4-5,1,yesterday\n", "timestamp must be an ISO 8601")]
    [InlineData("model,input_tokens,cost_usd\nclaude-haiku-4-5,1,$3\n", "cost_usd must be a decimal")]
    [InlineData("model,input_tokens\nclaude-haiku-4-5,1,extra\n", "the row has 3 fields, the header has 2")]
    [InlineData("model,input_tokens\nclaude-haiku-4-5\n", "the row has 1 fields, the header has 2")]
    public void Bad_csv_rows_are_format_errors_with_the_line(string content, string expected)
    {
        var path = _folder.Write("rows.csv", content);

        var error = Assert.Throws<FormatException>(() => UsageExportReader.Read(path).ToList());

        Assert.StartsWith($"{path}:2: ", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_json_line_that_is_not_an_object_or_not_json_names_the_line()
    {
        var path = _folder.Write("x.jsonl", "{\"model\":\"claude-haiku-4-5\"}\n[1,2]\n");
        var broken = _folder.Write("y.jsonl", "{\"model\":\n");

        Assert.StartsWith($"{path}:2: expected a JSON object", Assert.Throws<FormatException>(() => UsageExportReader.Read(path).ToList()).Message);
        Assert.StartsWith($"{broken}:1: ", Assert.Throws<FormatException>(() => UsageExportReader.Read(broken).ToList()).Message);
    }

    [Fact]
    public void A_missing_file_or_an_unknown_extension_is_refused_up_front()
    {
        Assert.Throws<FileNotFoundException>(() => UsageExportReader.Read(Path.Combine(_folder.Path, "nope.csv")));
        var text = _folder.Write("usage.txt", "model\n");
        Assert.Contains("use a .jsonl or .csv file", Assert.Throws<FormatException>(() => UsageExportReader.Read(text)).Message);
    }
}
