using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FakeAnthropic;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Keys;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>
/// Every cell of {non-streaming, streaming} × <see cref="UpstreamFault"/> against a real proxy in front of a scripted
/// FakeAnthropic, with a virtual key holding a budget: the client gets the expected success or a clean Anthropic-format
/// error (never a hang, never a 500 or a stack trace); the ledger holds exactly one record per upstream attempt; the
/// budget is settled once, to exactly what the ledger charged (the successful attempt's cost, nothing for the failed
/// ones), with nothing left reserved; a stream that already sent bytes is never retried into a second message.
/// </summary>
public sealed class FaultMatrixTests
{
    /// <summary>The bound on one cell: past it the proxy hung.</summary>
    private static readonly TimeSpan CellTimeout = TimeSpan.FromSeconds(60);

    /// <summary>What the client must end with.</summary>
    public enum Outcome
    {
        /// <summary>A complete answer (after retries).</summary>
        Success,

        /// <summary>An Anthropic-format error response (status ≥ 400, JSON error body).</summary>
        ErrorResponse,

        /// <summary>A 200 stream that ends with an Anthropic <c>error</c> event (bytes were already sent: no retry).</summary>
        StreamErrorEvent,
    }

    public static TheoryData<bool, UpstreamFault, Outcome> Cells()
    {
        var cells = new TheoryData<bool, UpstreamFault, Outcome>();
        foreach (var streaming in new[] { false, true })
        {
            cells.Add(streaming, UpstreamFault.RateLimited, Outcome.Success);
            cells.Add(streaming, UpstreamFault.Overloaded, Outcome.Success);
            cells.Add(streaming, UpstreamFault.ServerError, Outcome.Success);
            cells.Add(streaming, UpstreamFault.ConnectRefused, Outcome.ErrorResponse);
            cells.Add(streaming, UpstreamFault.SlowFirstByte, Outcome.Success);
            cells.Add(streaming, UpstreamFault.CutMidway, streaming ? Outcome.StreamErrorEvent : Outcome.Success);
            cells.Add(streaming, UpstreamFault.MalformedJson, Outcome.Success);
            cells.Add(streaming, UpstreamFault.ErrorEventMidStream, streaming ? Outcome.StreamErrorEvent : Outcome.Success);
        }

        return cells;
    }

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task Every_fault_ends_in_success_or_a_clean_error_with_one_record_per_attempt_and_one_settlement(bool streaming, UpstreamFault fault, Outcome expected)
    {
        var time = new AnchoredClock(); // the day window read below is the one the request was charged to
        await using var harness = await ProxyHarness.StartAsync(settings =>
        {
            settings["ModelMix:UpstreamTimeout"] = "00:00:03";
            settings["ModelMix:MaxRetries"] = "2";
            if (fault == UpstreamFault.ConnectRefused)
            {
                settings["ModelMix:Upstream"] = $"http://127.0.0.1:{ClosedPort()}/";
            }
        }, time);
        CreatedApiKey key;
        await using (var keys = new SqliteKeyStore(harness.DbPath))
        {
            key = await keys.CreateAsync("matrix", [BudgetCap.Parse("1/day")]);
        }

        if (Script(fault, streaming) is { } reply)
        {
            harness.Fake.Enqueue(reply);
        }

        using var http = new HttpClient { BaseAddress = harness.ProxyUrl, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages")
        {
            Content = new StringContent(
                $$"""{"model":"claude-haiku-4-5","max_tokens":64,"stream":{{(streaming ? "true" : "false")}},"messages":[{"role":"user","content":"Classify this ticket."}]}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Add("x-api-key", key.Key);
        request.Headers.Add("anthropic-version", "2023-06-01");

        // Never a hang: the whole exchange, body included, is bounded.
        var clock = Stopwatch.StartNew();
        using var bound = new CancellationTokenSource(CellTimeout);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, bound.Token);
        var body = await response.Content.ReadAsStringAsync(bound.Token);
        Assert.True(clock.Elapsed < CellTimeout, $"the exchange took {clock.Elapsed}");

        // Never a 500, never a stack trace.
        Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);

        var actual = Classify(response, body, streaming);
        if (fault == UpstreamFault.CutMidway && streaming && actual == Outcome.Success)
        {
            // On a loaded machine the fake's abort can overtake its flushed events, so the proxy saw no complete event:
            // then nothing reached the client and a retry is right. It must have been exactly one retry.
            Assert.Equal(2, harness.Fake.MessageCount);
            expected = Outcome.Success;
        }

        Assert.True(expected == actual, $"expected {expected}, got {actual}: HTTP {(int)response.StatusCode}\n{body}");

        // A stream never carries two messages (a silent retry after bytes were sent would show a second message_start).
        Assert.True(CountEvents(body, "message_start") <= 1, body);
        if (actual == Outcome.StreamErrorEvent)
        {
            Assert.Equal(1, harness.Fake.MessageCount);
        }

        // The ledger: exactly one record per upstream attempt (3 refused connects when nothing listens).
        await harness.StopProxyAsync(); // settles and flushes everything
        var records = await harness.ReadLedgerAsync();
        var attempts = fault == UpstreamFault.ConnectRefused ? 3 : harness.Fake.MessageCount;
        Assert.Equal(attempts, records.Count);
        Assert.Equal(Enumerable.Range(1, attempts), records.Select(record => record.Attempt).Order());
        Assert.Single(records.Select(record => record.RequestId).Distinct());
        Assert.All(records, record => Assert.Equal(streaming, record.Streaming));
        var ok = records.Where(record => record.Status == LedgerStatus.Ok).ToList();
        Assert.Equal(actual == Outcome.Success ? 1 : 0, ok.Count);

        // The budget: settled once, to exactly the ledger's cost (for a success, the successful attempt's), nothing held.
        await using var budgets = new SqliteBudgetStore(harness.DbPath);
        var usage = await budgets.GetUsageAsync(key.Info.BudgetScope, BudgetWindow.Day, time.GetUtcNow());
        var recorded = records.Sum(record => record.Cost?.Total ?? 0m);
        Assert.Equal(recorded, usage.SpentUsd);
        Assert.Equal(0m, usage.ReservedUsd);
        if (actual == Outcome.Success)
        {
            Assert.Equal(ok[0].Cost!.Value.Total, usage.SpentUsd);
            Assert.True(usage.SpentUsd > 0m);
        }

        SqliteConnection.ClearAllPools();
    }

    /// <summary>The scripted reply for the first attempt (the later ones get the fake's default, a good answer).</summary>
    private static FakeReply? Script(UpstreamFault fault, bool streaming) => fault switch
    {
        UpstreamFault.RateLimited => FakeReply.RateLimited(TimeSpan.FromSeconds(1)),
        UpstreamFault.Overloaded => FakeReply.Overloaded(),
        UpstreamFault.ServerError => FakeReply.ServerError(),
        UpstreamFault.ConnectRefused => null,
        UpstreamFault.SlowFirstByte => FakeReply.Default.WithDelay(TimeSpan.FromSeconds(30)),
        UpstreamFault.CutMidway => streaming ? FakeReply.Stream().WithCutAfterEvents(3) : FakeReply.Message().WithCutBodyAfterBytes(40),
        UpstreamFault.MalformedJson => (streaming ? FakeReply.Stream() : FakeReply.Message()).WithMalformedBody(),
        UpstreamFault.ErrorEventMidStream => FakeReply.Stream("streaming/error-midstream.sse"),
        _ => throw new ArgumentOutOfRangeException(nameof(fault)),
    };

    /// <summary>What the client got, checking that every error is in Anthropic's shape.</summary>
    private static Outcome Classify(HttpResponseMessage response, string body, bool streaming)
    {
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.Equal("application/json", mediaType);
            AssertAnthropicError(body);
            return Outcome.ErrorResponse;
        }

        if (!streaming)
        {
            Assert.Equal("application/json", mediaType);
            using var message = JsonDocument.Parse(body);
            Assert.Equal("message", message.RootElement.GetProperty("type").GetString());
            return Outcome.Success;
        }

        Assert.Equal("text/event-stream", mediaType);
        var events = SseEvents(body);
        Assert.All(events, e => JsonDocument.Parse(e.Data).Dispose()); // every relayed event is well-formed JSON
        if (events.FindIndex(e => e.Name == "error") is var error and >= 0)
        {
            Assert.Equal(events.Count - 1, error); // the error event ends the stream
            AssertAnthropicError(events[error].Data);
            return Outcome.StreamErrorEvent;
        }

        Assert.Equal("message_start", events[0].Name);
        Assert.Equal("message_stop", events[^1].Name);
        return Outcome.Success;
    }

    private static void AssertAnthropicError(string json)
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal("error", root.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(root.GetProperty("error").GetProperty("type").GetString()));
        Assert.False(string.IsNullOrEmpty(root.GetProperty("error").GetProperty("message").GetString()));
    }

    private static List<(string Name, string Data)> SseEvents(string body)
    {
        var events = new List<(string Name, string Data)>();
        foreach (var block in body.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var lines = block.Split('\n').Where(line => !line.StartsWith(':')).ToArray(); // comment lines are not events
            if (lines.Length == 0)
            {
                continue;
            }

            var name = lines.FirstOrDefault(line => line.StartsWith("event:", StringComparison.Ordinal))?["event:".Length..].Trim();
            var data = string.Join('\n', lines.Where(line => line.StartsWith("data:", StringComparison.Ordinal)).Select(line => line["data:".Length..].TrimStart()));
            Assert.NotNull(name);
            events.Add((name, data));
        }

        return events;
    }

    private static int CountEvents(string body, string name) =>
        body.Split('\n').Count(line => line.Trim() == "event: " + name);

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
