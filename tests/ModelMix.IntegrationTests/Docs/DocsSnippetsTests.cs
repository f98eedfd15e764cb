using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ModelMix.IntegrationTests.Support;

namespace ModelMix.IntegrationTests.Docs;

/// <summary>
/// Every <c>```csharp</c> snippet of README.md and docs/*.md compiles against the ModelMix assemblies and their
/// dependencies (Roslyn, in memory), so an example that has gone stale fails the build's tests. A snippet is compiled
/// as the top-level statements of a console app with the SDK's implicit usings (System, System.IO, System.Linq,
/// System.Net.Http, System.Threading, System.Threading.Tasks, System.Collections.Generic): every other namespace it
/// needs — ModelMix's included — it must say itself. The variables an example takes as given (an <c>anthropic</c>
/// client, the <c>recorder</c>, <c>configuration</c>, <c>services</c>, …, listed in <see cref="Givens"/>) are declared
/// for it unless it declares them. A snippet preceded by <c>&lt;!-- snippet: not compiled --&gt;</c> is skipped.
/// </summary>
public sealed partial class DocsSnippetsTests
{
    private const string SkipMarker = "<!-- snippet: not compiled -->";

    /// <summary>The names examples use without declaring them, and what they stand for.</summary>
    private static readonly (string Name, string Type)[] Givens =
    [
        ("anthropic", "global::Anthropic.AnthropicClient"),
        ("recorder", "global::ModelMix.Ledger.AttemptRecorder"),
        ("ledger", "global::ModelMix.Ledger.BufferedLedger"),
        ("configuration", "global::Microsoft.Extensions.Configuration.IConfiguration"),
        ("services", "global::Microsoft.Extensions.DependencyInjection.IServiceCollection"),
        ("builder", "global::Microsoft.Extensions.AI.ChatClientBuilder"),
        ("chat", "global::Microsoft.Extensions.AI.IChatClient"),
        ("inner", "global::Microsoft.Extensions.AI.IChatClient"),
        ("options", "global::Microsoft.Extensions.AI.ChatOptions"),
        ("messages", "global::System.Collections.Generic.List<global::Microsoft.Extensions.AI.ChatMessage>"),
        ("conversationId", "string"),
        ("prompt", "string"),
        ("apiKey", "string"),
        ("requestId", "string"),
        ("http", "global::System.Net.Http.HttpClient"),
        ("upstream", "global::System.Uri"),
        ("queue", "global::ModelMix.Batching.IBatchStore"),
        ("routingRequest", "global::ModelMix.Routing.RoutingRequest"),
        ("logger", "global::Microsoft.Extensions.Logging.ILogger<global::ModelMix.Routing.TierDriftMonitor>"),
        ("monitor", "global::ModelMix.Routing.TierDriftMonitor"),
        ("queryOrders", "global::Microsoft.Extensions.AI.AIFunction"),
        ("getShipment", "global::Microsoft.Extensions.AI.AIFunction"),
        ("bodyNode", "global::System.Text.Json.Nodes.JsonNode"),
        ("bodyBytes", "byte[]"),
        ("routedModel", "string"),
        ("usage", "global::ModelMix.Pricing.TokenUsage"),
        ("cost", "global::ModelMix.Pricing.CostBreakdown"),
        ("midnight", "global::System.DateTimeOffset"),
    ];

    private static readonly string[] ImplicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    private static readonly Lazy<MetadataReference[]> References = new(() =>
        [.. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(path => MetadataReference.CreateFromFile(path))]);

    public static TheoryData<string, int> Snippets()
    {
        var data = new TheoryData<string, int>();
        foreach (var (file, line, _) in ReadSnippets())
        {
            data.Add(file, line);
        }

        return data;
    }

    [Fact]
    public void The_docs_have_snippets_to_check()
    {
        var snippets = ReadSnippets().ToList();

        Assert.True(snippets.Count >= 17, $"only {snippets.Count} C# snippets found");
        Assert.Contains(snippets, s => s.File == "docs/library.md");
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Snippet_compiles(string file, int line)
    {
        var code = ReadSnippets().Single(s => s.File == file && s.Line == line).Code;

        var errors = Compile(code);

        Assert.True(errors.Count == 0, $"{file}:{line} does not compile:\n{string.Join("\n", errors)}\n---\n{code}");
    }

    [Fact]
    public void A_broken_snippet_fails()
    {
        Assert.NotEmpty(Compile("using ModelMix.Pipeline;\nvar chat = new ChatClientBuilder(anthropic.AsIChatClient(\"claude-haiku-4-5\")).Build();"));
        Assert.NotEmpty(Compile("using ModelMix.Routing;\nvar monitor = new TierDriftMonitor();"));
        Assert.Empty(Compile("using Anthropic;\nusing Microsoft.Extensions.AI;\nusing ModelMix.Pipeline;\nvar chat = new ChatClientBuilder(anthropic.AsIChatClient(\"claude-haiku-4-5\")).UseModelMixLedger(recorder).Build();"));
    }

    /// <summary>The compiler's errors for one snippet (warnings do not count).</summary>
    private static List<string> Compile(string code)
    {
        var options = new CSharpParseOptions(LanguageVersion.Preview);
        var snippet = CSharpSyntaxTree.ParseText(code, options);
        var root = snippet.GetCompilationUnitRoot();
        var declared = root.Members.OfType<GlobalStatementSyntax>()
            .SelectMany(statement => statement.DescendantNodes())
            .Select(node => node switch
            {
                VariableDeclaratorSyntax variable => variable.Identifier.ValueText,
                SingleVariableDesignationSyntax designation => designation.Identifier.ValueText,
                _ => null,
            })
            .Where(name => name is not null)
            .ToHashSet(StringComparer.Ordinal);
        var prelude = string.Concat(Givens.Where(g => !declared.Contains(g.Name)).Select(g => $"{g.Type} {g.Name} = default!;\n"));
        var usings = string.Concat(root.Usings.Select(u => u.ToFullString()));
        var body = code[(root.Usings.LastOrDefault()?.FullSpan.End ?? 0)..];
        var program = $"{usings}\n{prelude}\n#line 1\n{body}\n";
        var global = string.Concat(ImplicitUsings.Select(u => $"global using {u};\n"));
        var compilation = CSharpCompilation.Create(
            "Snippet",
            [CSharpSyntaxTree.ParseText(program, options), CSharpSyntaxTree.ParseText(global, options)],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        return [.. compilation.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => d.ToString())];
    }

    private static IEnumerable<(string File, int Line, string Code)> ReadSnippets()
    {
        var root = RepositoryPaths.Root;
        var files = new[] { Path.Combine(root, "README.md") }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal));
        foreach (var path in files)
        {
            var lines = File.ReadAllLines(path);
            var relative = Path.GetRelativePath(root, path).Replace('\\', '/');
            for (var i = 0; i < lines.Length; i++)
            {
                if (!Fence().IsMatch(lines[i]))
                {
                    continue;
                }

                var start = i + 1;
                var end = start;
                while (end < lines.Length && lines[end].Trim() != "```")
                {
                    end++;
                }

                var skipped = Enumerable.Range(Math.Max(0, i - 2), i - Math.Max(0, i - 2)).Any(k => lines[k].Contains(SkipMarker, StringComparison.Ordinal));
                if (!skipped)
                {
                    yield return (relative, start + 1, string.Join('\n', lines[start..end]));
                }

                i = end;
            }
        }
    }

    [GeneratedRegex(@"^\s*```(csharp|cs|c#)\s*$")]
    private static partial Regex Fence();
}
