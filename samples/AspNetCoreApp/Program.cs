using ModelMix.AspNetCore;

// An ASP.NET Core app of its own that also serves ModelMix's proxy endpoints. The ModelMix section of its configuration
// (appsettings.json, environment variables such as ModelMix__Upstream) means what it means to `modelmix serve`.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddModelMixProxy(builder.Configuration);

var app = builder.Build();
app.MapGet("/hello", () => "Hello from the app's own endpoint."); // the app's own endpoint, beside ModelMix's
app.MapModelMix(endpoints => endpoints.Metrics = true); // POST /v1/messages, /v1/chat/completions, ... and GET /metrics
app.Run();
