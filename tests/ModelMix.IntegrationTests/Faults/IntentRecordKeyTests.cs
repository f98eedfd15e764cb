using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Data.Sqlite;
using ModelMix.IntegrationTests.Proxy;

namespace ModelMix.IntegrationTests.Faults;

/// <summary>
/// Every writer of a ledger id uses the same timestamp (docs/ledger.md, "PostgreSQL partitions"): the intent the proxy
/// journals before an upstream call carries, as <c>created_at</c>, exactly the timestamp of the record that later
/// completes it — for an attempt of the forwarder and for an SDK call the proxy makes itself (the meta-router's
/// classification, through the ledger stage). So an intent's reconciled row and its record have the same
/// <c>(id, timestamp)</c>, the PostgreSQL ledger's key, and the key skips the one when the other is stored.
/// </summary>
public sealed class IntentRecordKeyTests
{
    [Fact]
    public async Task The_intent_of_each_call_has_its_records_id_and_timestamp()
    {
        await using var harness = await ProxyHarness.StartAsync();
        using var replies = new Cascade.TextReplies();
        var classified = new TaskCompletionSource();
        var answered = new TaskCompletionSource();
        harness.Fake.Enqueue(replies.Message("{\"tier\":\"haiku\",\"reason\":\"simple\"}").WithHold(classified.Task));
        harness.Fake.Enqueue(replies.Message("Coins fall like rain.").WithHold(answered.Task));
        using var http = new HttpClient { BaseAddress = harness.ProxyUrl, Timeout = TimeSpan.FromSeconds(60) };
        var response = http.SendAsync(Post("""{"model":"auto-meta","max_tokens":100,"messages":[{"role":"user","content":"Write a haiku about money."}]}"""));

        // Each call's intent, read while the fake holds the call.
        var intents = new Dictionary<string, long>();
        await WaitUntilAsync(() => harness.Fake.MessageCount >= 1 && ReadIntents(harness.DbPath).Any(i => i.Attempt == 0), "the classification's intent");
        var routing = ReadIntents(harness.DbPath).Single(i => i.Attempt == 0);
        intents[routing.Id] = routing.CreatedAt;
        classified.SetResult();
        await WaitUntilAsync(() => harness.Fake.MessageCount >= 2 && ReadIntents(harness.DbPath).Any(i => i.Attempt == 1), "the routed attempt's intent");
        var attempt = ReadIntents(harness.DbPath).Single(i => i.Attempt == 1);
        intents[attempt.Id] = attempt.CreatedAt;
        answered.SetResult();
        using (var done = await response)
        {
            Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        }

        await WaitUntilAsync(() => ReadIntents(harness.DbPath).Count == 0, "the records to complete the intents");
        var records = ReadRecords(harness.DbPath);
        Assert.Equal(2, records.Count);
        Assert.Equal(intents.OrderBy(i => i.Key, StringComparer.Ordinal), records.OrderBy(r => r.Key, StringComparer.Ordinal));
    }

    private static List<(string Id, long CreatedAt, long Attempt)> ReadIntents(string db) =>
        [.. Support.PendingIntents.Read(db).Select(i => (i.Id, ModelMix.Ledger.SqliteLedgerSchema.ToStoredTimestamp(i.CreatedAt), (long)i.Attempt))];

    private static Dictionary<string, long> ReadRecords(string db) =>
        Read(db, "SELECT id, timestamp FROM ledger_records;", r => (r.GetString(0), r.GetInt64(1))).ToDictionary(r => r.Item1, r => r.Item2);

    private static List<T> Read<T>(string db, string sql, Func<SqliteDataReader, T> map)
    {
        using var connection = new SqliteConnection($"Data Source={db};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<T>();
        while (reader.Read())
        {
            rows.Add(map(reader));
        }

        return rows;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "timed out waiting for " + what);
            await Task.Delay(50);
        }
    }

    private static HttpRequestMessage Post(string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/messages") { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Add("anthropic-version", "2023-06-01");
        return request;
    }
}
