using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// <c>GET /v1/models</c> and <c>GET /v1/models/{id}</c> in the Anthropic list format: the routing aliases first, then
/// every model the price book can price (a model it cannot price is refused by the proxy, so it is not offered).
/// </summary>
internal sealed class ModelsEndpoint(PriceBook prices, ProxyRouter router, AuthGate auth)
{
    private static readonly DateTimeOffset AliasCreated = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public async Task ListAsync(HttpContext context)
    {
        if (!await AuthenticatedAsync(context))
        {
            return;
        }

        var models = AllModels();
        await WriteAsync(context, writer =>
        {
            writer.WriteStartObject();
            writer.WriteStartArray("data");
            foreach (var model in models)
            {
                WriteModel(writer, model);
            }

            writer.WriteEndArray();
            writer.WriteBoolean("has_more", false);
            writer.WriteString("first_id", models.Count > 0 ? models[0].Id : null);
            writer.WriteString("last_id", models.Count > 0 ? models[^1].Id : null);
            writer.WriteEndObject();
        });
    }

    public async Task GetAsync(HttpContext context, string id)
    {
        if (!await AuthenticatedAsync(context))
        {
            return;
        }

        var model = AllModels().FirstOrDefault(candidate => string.Equals(candidate.Id, id, StringComparison.OrdinalIgnoreCase))
            ?? (prices.TryResolveId(id, out var canonical) ? AllModels().FirstOrDefault(candidate => candidate.Id == canonical) : null);
        await (model is null
            ? AnthropicError.WriteAsync(context, 404, $"model: {id}", "not_found_error")
            : WriteAsync(context, writer => WriteModel(writer, model)));
    }

    /// <summary>Once virtual keys exist, listing models needs one too (the same gate as the messages endpoint).</summary>
    private async Task<bool> AuthenticatedAsync(HttpContext context) =>
        await auth.AuthenticateAsync(context, ProxyRequestId.New(), AnthropicDialect.Instance) is not null;

    private List<ModelListing> AllModels()
    {
        var list = new List<ModelListing>();
        foreach (var alias in router.Aliases.Order(StringComparer.Ordinal))
        {
            list.Add(new ModelListing(alias, $"ModelMix routing alias '{alias}'", AliasCreated, null));
        }

        foreach (var entry in prices.Entries)
        {
            var created = entry.Periods.Count > 0 ? entry.Periods.Min(period => period.EffectiveFrom) : AliasCreated;
            list.Add(new ModelListing(entry.Id, entry.DisplayName ?? entry.Id, created, entry.Family));
        }

        return list;
    }

    private static void WriteModel(Utf8JsonWriter writer, ModelListing model)
    {
        writer.WriteStartObject();
        writer.WriteString("id", model.Id);
        writer.WriteString("type", "model");
        writer.WriteString("display_name", model.DisplayName);
        writer.WriteString("created_at", model.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        writer.WriteString("lifecycle", "active");
        if (model.Line is not null)
        {
            writer.WriteString("line", model.Line);
        }

        writer.WriteEndObject();
    }

    private static async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        context.Response.ContentType = "application/json";
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        await context.Response.Body.WriteAsync(buffer.ToArray(), context.RequestAborted);
    }

    private sealed record ModelListing(string Id, string DisplayName, DateTimeOffset Created, string? Line);
}
