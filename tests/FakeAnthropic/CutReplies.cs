using System.Text;
using Microsoft.AspNetCore.Http;

namespace FakeAnthropic;

/// <summary>Writes the part of a reply that a broken connection lets through (see <see cref="FakeReply.CutBodyAfterBytes"/>).</summary>
internal static class CutReplies
{
    private static readonly TimeSpan Grace = TimeSpan.FromMilliseconds(50);

    /// <summary>Sends a 200 JSON answer's headers and its first <paramref name="bytes"/> bytes, then aborts the connection.</summary>
    public static async Task WriteCutJsonAsync(HttpContext ctx, string json, int bytes, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes(json);
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = body.Length;
        await ctx.Response.Body.WriteAsync(body.AsMemory(0, Math.Min(bytes, body.Length)), ct);
        await ctx.Response.Body.FlushAsync(ct);

        // Kestrel drops output still queued for the socket on abort: give the flushed bytes a moment to leave.
        await Task.Delay(Grace, ct);
        ctx.Abort();
    }
}
