// A NativeAOT-published app that routes one call through ModelMix: options from appsettings.json and the environment
// (ModelMix__Db, Anthropic__BaseUrl), the ledger as a hosted service, a normal stop.
using Anthropic;
using Anthropic.Core;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelMix.Pipeline;

AnthropicSdkAot.Prepare(); // the SDK's JSON under NativeAOT (AnthropicSdkAot.cs): before the first SDK call

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddModelMix(builder.Configuration).AddSqliteStores();
builder.Services.AddSingleton(new AnthropicClient(new ClientOptions
{
    BaseUrl = builder.Configuration["Anthropic:BaseUrl"] ?? "https://api.anthropic.com",
    ApiKey = builder.Configuration["ANTHROPIC_API_KEY"],
    MaxRetries = 0,
}));
builder.Services.AddChatClient(services => services.GetRequiredService<AnthropicClient>().AsIChatClient("claude-sonnet-5-5"))
    .UseModelMix();

using var host = builder.Build();
await host.StartAsync();

var chat = host.Services.GetRequiredService<IChatClient>();
var prompt = args.Length > 0 ? string.Join(' ', args) : "Classify this ticket: my invoice is wrong";
var answer = await chat.GetResponseAsync(prompt, new ChatOptions().WithTaskLabel("triage"));
Console.WriteLine($"answer: {answer.Text}");
Console.WriteLine($"routed to {answer.GetRoutedModel()} because {answer.GetRoutingReason()}; cost ${answer.GetCostUsd()}");

await host.StopAsync();
