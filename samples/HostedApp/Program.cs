// A Generic Host app that routes one call through ModelMix: options from appsettings.json (and the environment, e.g.
// ModelMix__Db, Anthropic__BaseUrl), the ledger as a hosted service, ModelMix's spans to the console exporter.
// Run: ANTHROPIC_API_KEY=… dotnet run --project samples/HostedApp -- "Classify this ticket: my invoice is wrong"
using Anthropic;
using Anthropic.Core;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelMix.Pipeline;
using OpenTelemetry.Trace;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddModelMix(builder.Configuration).AddSqliteStores(); // ModelMix:Store is a SQLite file (package ModelMix.Sqlite)
builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddSource("ModelMix").AddConsoleExporter());
builder.Services.AddSingleton(new AnthropicClient(new ClientOptions
{
    BaseUrl = builder.Configuration["Anthropic:BaseUrl"] ?? "https://api.anthropic.com",
    ApiKey = builder.Configuration["ANTHROPIC_API_KEY"],
    MaxRetries = 0, // ModelMix's fallback stage retries
}));
builder.Services.AddChatClient(services => services.GetRequiredService<AnthropicClient>().AsIChatClient("claude-sonnet-5-5"))
    .UseModelMix();

using var host = builder.Build();
await host.StartAsync(); // opens and migrates the ledger; a bad setting stops here, naming its key

var chat = host.Services.GetRequiredService<IChatClient>();
var prompt = args.Length > 0 ? string.Join(' ', args) : "Classify this ticket: my invoice is wrong";
var answer = await chat.GetResponseAsync(prompt, new ChatOptions().WithTaskLabel("triage"));
Console.WriteLine($"answer: {answer.Text}");
Console.WriteLine($"routed to {answer.GetRoutedModel()} because {answer.GetRoutingReason()}; cost ${answer.GetCostUsd()}");

await host.StopAsync(); // a normal stop commits every buffered ledger record
