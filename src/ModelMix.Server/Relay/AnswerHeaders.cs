using System.Text;
using Microsoft.AspNetCore.Http;
using ModelMix.Ledger;

namespace ModelMix.Server;

/// <summary>
/// What the proxy tells a client about its answer besides the body (docs/configuration.md, "What the answer carries"):
/// headers <c>x-modelmix-routed-model</c>, <c>x-modelmix-route-reason</c>, <c>x-modelmix-route-policy</c> and, for a
/// buffered answer, <c>x-modelmix-cost-usd</c> (the exact cost of the attempt that answered). A stream's headers are
/// sent before its cost is known, so a stream ends with an SSE comment line after its last event:
/// <c>: modelmix request_id=… cost_usd=…</c> — SSE clients ignore comment lines (the Anthropic SDKs among them).
/// </summary>
internal static class AnswerHeaders
{
    /// <summary>The longest route reason sent in a header; longer ones are cut with an ellipsis.</summary>
    internal const int MaxReasonLength = 512;

    public static void Apply(HttpResponse response, Route route, UpstreamResult result)
    {
        if (response.HasStarted)
        {
            return;
        }

        response.Headers["x-modelmix-routed-model"] = route.Model;
        response.Headers["x-modelmix-route-policy"] = HeaderValue(route.Policy);
        response.Headers["x-modelmix-route-reason"] = HeaderValue(route.Reason);
        if (result.OpenStream is null && result.Cost is { } cost)
        {
            response.Headers["x-modelmix-cost-usd"] = ModelMix.Telemetry.ModelMixActivity.Usd(cost);
        }
    }

    /// <summary>Writes the comment line that closes a stream: its request id and, when priced, its exact cost.</summary>
    public static async Task WriteStreamTrailerAsync(HttpResponse response, string requestId, LedgerRecord record, CancellationToken cancellationToken)
    {
        var line = record.Cost is { } cost
            ? $": modelmix request_id={requestId} cost_usd={ModelMix.Telemetry.ModelMixActivity.Usd(cost.Total)}\n\n"
            : $": modelmix request_id={requestId} cost_usd=unpriced\n\n";
        try
        {
            await response.Body.WriteAsync(Encoding.ASCII.GetBytes(line), cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is IOException or OperationCanceledException)
        {
            // The client left after the last event: the attempt is recorded, the comment was only a courtesy.
        }
    }

    /// <summary>
    /// <paramref name="text"/> as a valid header value: printable ASCII only (Kestrel refuses anything else), arrows and
    /// comparison signs spelled out, other characters as <c>?</c>, at most <see cref="MaxReasonLength"/> characters.
    /// </summary>
    internal static string HeaderValue(string text)
    {
        if (IsHeaderSafe(text))
        {
            return text; // the usual case (policy names, most reasons): nothing to change, nothing allocated
        }

        if (Converted.TryGetValue(text, out var known))
        {
            return known;
        }

        var value = Convert(text);
        // Routing reasons repeat: a few hundred distinct texts are kept, then no more. Counted apart, since
        // ConcurrentDictionary.Count takes every lock and a full cache would ask it on each new text.
        if (Volatile.Read(ref _convertedCount) < MaxConverted && Converted.TryAdd(text, value))
        {
            Interlocked.Increment(ref _convertedCount);
        }

        return value;
    }

    /// <summary>Reasons already converted, by their text (bounded: <see cref="MaxConverted"/>).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Converted = new(StringComparer.Ordinal);

    private const int MaxConverted = 512;

    private static int _convertedCount;

    /// <summary>Whether <paramref name="text"/> is already what <see cref="Convert"/> would make of it.</summary>
    private static bool IsHeaderSafe(string text)
    {
        if (text.Length > MaxReasonLength || (text.Length > 0 && (text[0] == ' ' || text[^1] == ' ')))
        {
            return false;
        }

        foreach (var c in text)
        {
            if (c is < ' ' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    private static string Convert(string text)
    {
        var builder = new StringBuilder(Math.Min(text.Length, MaxReasonLength) + 8);
        foreach (var c in text)
        {
            if (builder.Length >= MaxReasonLength)
            {
                builder.Length = MaxReasonLength - 3;
                builder.Append("...");
                break;
            }

            _ = c switch
            {
                '→' => builder.Append("->"),
                '≥' => builder.Append(">="),
                '≤' => builder.Append("<="),
                '—' or '–' => builder.Append('-'),
                '…' => builder.Append("..."),
                '\t' or '\r' or '\n' => builder.Append(' '),
                >= ' ' and <= '~' => builder.Append(c),
                _ => builder.Append('?'),
            };
        }

        return builder.ToString().Trim();
    }
}
