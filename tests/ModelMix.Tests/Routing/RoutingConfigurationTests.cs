using System.Text;
using Microsoft.Extensions.Configuration;
using ModelMix.Pricing;
using ModelMix.Routing;

namespace ModelMix.Tests.Routing;

public sealed class RoutingConfigurationTests
{
    private static readonly PriceBook s_book = PriceBook.Default;

    private const string AppSettings = """
        {
          "Logging": { "LogLevel": { "Default": "Information" } },
          "ModelMix": {
            "Routing": {
              "Pins": { "fraud-check": "opus", "autocomplete": "claude-haiku-4-5" },
              "Rules": [
                { "Name": "vision", "HasImages": true, "Target": "sonnet", "Confidence": 0.9 },
                { "Name": "extraction-short", "TaskLabels": [ "extraction" ], "Keywords": [ "extract", "parse" ],
                  "MaxInputTokens": 8000, "Target": "haiku" },
                { "Name": "deep-agent", "MinTools": 5, "MinDepth": 20, "Target": "opus" },
                { "Name": "rest", "Target": "sonnet" }
              ],
              "Default": "sonnet"
            }
          }
        }
        """;

    private static IConfigurationSection Section(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build()
            .GetSection(RoutingOptions.SectionName);

    private static IConfigurationSection Section(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(RoutingOptions.SectionName);

    [Fact]
    public void Appsettings_section_binds_pins_rules_and_default()
    {
        var options = RoutingConfiguration.Bind(Section(AppSettings));

        Assert.Equal("opus", options.Pins["fraud-check"]);
        Assert.Equal(4, options.Rules!.Count);
        Assert.Equal(["extraction"], options.Rules[1].TaskLabels!);
        Assert.Equal(8000, options.Rules[1].MaxInputTokens);
        Assert.True(options.Rules[0].HasImages);
        Assert.Equal(0.9, options.Rules[0].Confidence);
    }

    [Fact]
    public void Configured_chain_runs_pin_then_rules_then_default()
    {
        var chain = RoutingConfiguration.CreatePolicy(Section(AppSettings), s_book);

        Assert.Equal(["pinned", "rules", "default"], chain.Policies.Select(p => p.Name));
        Assert.True(chain.TryDecide(Prompts.Request(Prompts.InvoiceExtraction, taskLabel: "fraud-check"), out var pinned));
        Assert.True(chain.TryDecide(Prompts.Request(Prompts.InvoiceExtraction, taskLabel: "extraction"), out var rule));
        Assert.True(chain.TryDecide(Prompts.Request(Prompts.ChitChat, tools: 6) with { ConversationDepth = 25 }, out var agent));

        Assert.Equal(s_book.ResolveTier("opus"), pinned.Model);
        Assert.StartsWith("rule 'extraction-short': task label 'extraction', text mentions 'extract' or 'parse', input ≤ 8K tokens → haiku", rule.Reason, StringComparison.Ordinal);
        Assert.Equal("deep-agent", agent.Reason.Split('\'')[1]);
    }

    [Fact]
    public void Absent_rules_mean_the_default_rules()
    {
        var chain = RoutingConfiguration.CreatePolicy(Section(new Dictionary<string, string?>()), s_book);

        var rules = Assert.IsType<RulesPolicy>(chain.Policies[0]);
        Assert.Equal(DefaultRules.CreateOptions().Select(r => r.Name), rules.Rules.Select(r => r.Name));
        Assert.IsType<DefaultPolicy>(chain.Policies[^1]);
    }

    [Fact]
    public void In_memory_configuration_binds_like_appsettings()
    {
        var section = Section(new Dictionary<string, string?>
        {
            ["ModelMix:Routing:Rules:0:Name"] = "long",
            ["ModelMix:Routing:Rules:0:MinInputTokens"] = "20000",
            ["ModelMix:Routing:Rules:0:Target"] = "sonnet",
            ["ModelMix:Routing:Default"] = "haiku",
        });

        var chain = RoutingConfiguration.CreatePolicy(section, s_book);

        Assert.True(chain.TryDecide(Prompts.Request(Prompts.ChitChat), out var decision));
        Assert.Equal(s_book.ResolveTier("haiku"), decision.Model);
        Assert.Equal("default", decision.Policy);
    }

    [Fact]
    public void Validation_reports_every_error_naming_rule_and_key()
    {
        var section = Section("""
            { "ModelMix": { "Routing": {
              "Pins": { "triage": "gpt-4o" },
              "Rules": [
                { "Name": "catch-everything", "Target": "sonnet" },
                { "Name": "short", "MinInputTokens": 9000, "MaxInputTokens": 8000, "Target": "haiku" },
                { "Name": "short", "MaxInputTokens": 100, "Target": "haiku" },
                { "Name": "mystery", "MinTools": 1, "Target": "claude-ultra" },
                { "Name": "overconfident", "MinDepth": 3, "Target": "opus", "Confidence": 1.5 }
              ] } } }
            """);

        var ex = Assert.Throws<RoutingConfigurationException>(() => RoutingConfiguration.CreatePolicy(section, s_book));

        Assert.Contains(ex.Errors, e => e.StartsWith("pin 'triage'", StringComparison.Ordinal) && e.Contains("'gpt-4o'", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("rule 'catch-everything' (Rules:0): has no conditions", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e == "rule 'short' (Rules:1): 'MinInputTokens' 9000 is greater than 'MaxInputTokens' 8000.");
        Assert.Contains(ex.Errors, e => e.StartsWith("rule 'short' (Rules:2): 'Name' duplicates rule #1", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("rule 'mystery' (Rules:3): 'Target' 'claude-ultra' is neither a tier", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.StartsWith("rule 'overconfident' (Rules:4): 'Confidence' 1.5", StringComparison.Ordinal));
        Assert.Equal(6, ex.Errors.Count);
        Assert.Contains("ModelMix:Routing", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_rule_key_fails_naming_rule_and_key_path()
    {
        var section = Section(new Dictionary<string, string?>
        {
            ["ModelMix:Routing:Rules:0:Name"] = "short",
            ["ModelMix:Routing:Rules:0:MaxInputTokns"] = "8000",
            ["ModelMix:Routing:Rules:0:Target"] = "haiku",
        });

        var ex = Assert.Throws<RoutingConfigurationException>(() => RoutingConfiguration.Bind(section));

        Assert.Contains("rule 'short' (ModelMix:Routing:Rules:0:MaxInputTokns): 'MaxInputTokns' is not a rule key", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Badly_typed_value_fails_naming_the_key_path()
    {
        var section = Section(new Dictionary<string, string?>
        {
            ["ModelMix:Routing:Rules:0:Name"] = "short",
            ["ModelMix:Routing:Rules:0:MaxInputTokens"] = "eight thousand",
            ["ModelMix:Routing:Rules:0:Target"] = "haiku",
        });

        var ex = Assert.Throws<RoutingConfigurationException>(() => RoutingConfiguration.Bind(section));

        Assert.Contains("ModelMix:Routing:Rules:0:MaxInputTokens", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_file_loads_with_the_same_shape_case_insensitively()
    {
        var path = Path.Combine(Path.GetTempPath(), $"modelmix-routing-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, """
            {
              // comments are allowed
              "pins": { "autocomplete": "haiku" },
              "rules": [
                { "name": "vision", "hasImages": true, "target": "opus" },
              ],
            }
            """);
        try
        {
            var options = RoutingConfiguration.LoadJson(path);
            var chain = RoutingConfiguration.CreatePolicy(options, s_book, path);

            Assert.True(chain.TryDecide(Prompts.Request(Prompts.ChitChat) with { HasImages = true }, out var decision));
            Assert.Equal(s_book.ResolveTier("opus"), decision.Model);
            Assert.Equal("sonnet", options.Default);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Json_with_an_unknown_key_fails_naming_the_path()
    {
        var ex = Assert.Throws<RoutingConfigurationException>(() => RoutingConfiguration.ParseJson(
            """{ "rules": [ { "name": "a", "target": "haiku", "maxTokns": 5 } ] }""", "routing.json"));

        Assert.Contains("routing.json", ex.Message, StringComparison.Ordinal);
        Assert.Contains("$.rules[0]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("maxTokns", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_json_file_fails_naming_the_file()
    {
        var ex = Assert.Throws<RoutingConfigurationException>(() => RoutingConfiguration.LoadJson("/nonexistent/routing.json"));

        Assert.Contains("/nonexistent/routing.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_validator_reports_failures_for_start_up_validation()
    {
        var validator = new RoutingOptionsValidator(s_book);
        var bad = new RoutingOptions { Default = "gpt-4o", Rules = [new() { Name = "x", MinTools = 3, MaxTools = 1, Target = "haiku" }] };

        var result = validator.Validate(null, bad);
        var good = validator.Validate(null, new RoutingOptions());

        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("'Default' 'gpt-4o'", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f == "rule 'x' (Rules:0): 'MinTools' 3 is greater than 'MaxTools' 1.");
        Assert.True(good.Succeeded);
    }
}
