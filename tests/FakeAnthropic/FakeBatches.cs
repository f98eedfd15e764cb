using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace FakeAnthropic;

/// <summary>
/// The fake's Message Batches API (<c>/v1/messages/batches</c>: create, retrieve, list, results JSONL, cancel), shaped
/// by <c>shared/fixtures/anthropic/batches</c>. Scriptable: how long a batch stays <c>in_progress</c>
/// (<see cref="ProcessingTime"/> and <see cref="InProgressPolls"/>), the outcome of each request
/// (<see cref="Outcome"/>, by <c>custom_id</c> and params), and how often each endpoint was called.
/// Params are validated like the API does it, asynchronously: a bad request becomes an <c>errored</c> line.
/// </summary>
public sealed partial class FakeBatches
{
    /// <summary>The API's limit on requests per batch.</summary>
    public const int MaxRequests = 100_000;

    /// <summary>The API's limit on the size of a create body (256 MB).</summary>
    public const long MaxBodyBytes = 256L * 1024 * 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Batch> _batches = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly Func<TimeProvider> _clock;
    private int _creates;
    private int _retrieves;
    private int _resultDownloads;
    private int _cancels;
    private int _lists;

    internal FakeBatches(Func<TimeProvider> clock)
    {
        _clock = clock;
    }

    /// <summary>How many retrieve calls per batch answer <c>in_progress</c> before it may end (default 1).</summary>
    public int InProgressPolls { get; set; } = 1;

    /// <summary>How long after creation a batch ends at the earliest, by the server's clock (default zero).</summary>
    public TimeSpan ProcessingTime { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// The outcome of one request, given its <c>custom_id</c> and its <c>params</c>; null (the default) means
    /// <c>succeeded</c> with the fixture's usage. Params that fail validation are <c>errored</c> whatever this says.
    /// </summary>
    public Func<string, JsonObject, FakeBatchOutcome>? Outcome { get; set; }

    /// <summary>
    /// Requests (custom id, params) that still run to their outcome when their batch is canceled — the in-progress,
    /// non-interruptible requests the API "may complete … before finalizing cancellation"; null: a cancel cancels every
    /// request that would have succeeded.
    /// </summary>
    public Func<string, JsonObject, bool>? FinishesWhenCanceled { get; set; }

    /// <summary>When set, a create fails with this HTTP status (an <c>api_error</c>/<c>overloaded_error</c> body) — once per value set.</summary>
    public int? FailNextCreateWith { get; set; }

    /// <summary>
    /// Makes the API lie: called with every answer about to be written (<see cref="FakeBatchAnswer"/>: the call, the
    /// batch, the honest status and body); returns the answer to write instead, or null to answer honestly. The state
    /// behind it is real (a create answered with a lie still created its batch). Called outside the fake's lock, so it
    /// may use <see cref="RequestsOf"/>.
    /// </summary>
    public Func<FakeBatchAnswer, FakeBatchAnswer?>? Lie { get; set; }

    /// <summary>The requests of an accepted batch (<c>custom_id</c> and a copy of the params), in order; empty when unknown.</summary>
    public IReadOnlyList<(string CustomId, JsonObject Params)> RequestsOf(string batchId)
    {
        lock (_gate)
        {
            return _batches.TryGetValue(batchId, out var batch)
                ? [.. batch.Requests.Select(r => (r.CustomId, (JsonObject)r.Params.DeepClone()))]
                : [];
        }
    }

    /// <summary>Successful creates so far (a batch accepted upstream).</summary>
    public int CreateCount => Volatile.Read(ref _creates);

    /// <summary><c>GET /v1/messages/batches/{id}</c> calls so far.</summary>
    public int RetrieveCount => Volatile.Read(ref _retrieves);

    /// <summary><c>GET …/results</c> calls so far.</summary>
    public int ResultDownloadCount => Volatile.Read(ref _resultDownloads);

    /// <summary><c>POST …/cancel</c> calls so far.</summary>
    public int CancelCount => Volatile.Read(ref _cancels);

    /// <summary><c>GET /v1/messages/batches</c> (list) calls so far.</summary>
    public int ListCount => Volatile.Read(ref _lists);

    /// <summary>Every <c>custom_id</c> of every accepted batch, in submission order (a request submitted twice shows twice).</summary>
    public IReadOnlyList<string> SubmittedCustomIds
    {
        get
        {
            lock (_gate)
            {
                return [.. _order.SelectMany(id => _batches[id].Requests.Select(r => r.CustomId))];
            }
        }
    }

    /// <summary>The ids of the accepted batches, oldest first.</summary>
    public IReadOnlyList<string> BatchIds
    {
        get
        {
            lock (_gate)
            {
                return [.. _order];
            }
        }
    }

    /// <summary>Ends a batch now, as if its processing time were over (the next retrieve answers <c>ended</c>).</summary>
    public void EndNow(string batchId)
    {
        lock (_gate)
        {
            var batch = _batches[batchId];
            batch.ForceEnded = true;
        }
    }

    /// <summary>Forgets every batch and count.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _batches.Clear();
            _order.Clear();
            _creates = _retrieves = _resultDownloads = _cancels = _lists = 0;
            FailNextCreateWith = null;
        }
    }

    /// <summary>Handles a create body; returns (status, json body, error type) for the server to write.</summary>
    internal (int Status, string Body, string? ErrorType) Create(JsonNode? json, long bodyBytes, Func<JsonObject, string?> paramsProblem)
    {
        if (bodyBytes > MaxBodyBytes)
        {
            return (413, "Request exceeds the maximum size of 256 MB for a message batch", "request_too_large");
        }

        if (json is not JsonObject body)
        {
            return (400, "There was an error parsing the body of your request. Please send a valid JSON object.", "invalid_request_error");
        }

        if (body["requests"] is not JsonArray requests)
        {
            return (400, body.ContainsKey("requests") ? "requests: Input should be a valid list" : "requests: Field required", "invalid_request_error");
        }

        if (requests.Count == 0)
        {
            return (400, "requests: List should have at least 1 item after validation, not 0", "invalid_request_error");
        }

        if (requests.Count > MaxRequests)
        {
            return (400, $"requests: List should have at most {MaxRequests} items after validation, not {requests.Count}", "invalid_request_error");
        }

        var parsed = new List<BatchRequest>(requests.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < requests.Count; i++)
        {
            if (requests[i] is not JsonObject item)
            {
                return (400, $"requests.{i}: Input should be a valid dictionary", "invalid_request_error");
            }

            if (item["custom_id"] is not JsonValue idValue || !idValue.TryGetValue<string>(out var customId))
            {
                return (400, $"requests.{i}.custom_id: Field required", "invalid_request_error");
            }

            if (!CustomIdPattern().IsMatch(customId))
            {
                return (400, $"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'", "invalid_request_error");
            }

            if (!seen.Add(customId))
            {
                return (400, $"requests: custom_id '{customId}' is used more than once; each request in a batch needs a unique custom_id", "invalid_request_error");
            }

            if (item["params"] is not JsonObject parameters)
            {
                return (400, $"requests.{i}.params: Field required", "invalid_request_error");
            }

            parsed.Add(new BatchRequest(customId, (JsonObject)parameters.DeepClone(), paramsProblem(parameters)));
        }

        lock (_gate)
        {
            if (FailNextCreateWith is { } status)
            {
                FailNextCreateWith = null;
                return (status, status == 529 ? "Overloaded" : "Internal server error", status == 529 ? "overloaded_error" : "api_error");
            }

            var id = WireIds.NewBatchId();
            var batch = new Batch(id, _clock().GetUtcNow(), parsed);
            _batches[id] = batch;
            _order.Add(id);
            _creates++;
            return (200, Describe(batch, allowEnd: false), null);
        }
    }

    /// <summary>The batch object (advancing its poll count), or null when unknown.</summary>
    internal string? Retrieve(string batchId)
    {
        lock (_gate)
        {
            _retrieves++;
            if (!_batches.TryGetValue(batchId, out var batch))
            {
                return null;
            }

            batch.Polls++;
            return Describe(batch, allowEnd: true);
        }
    }

    /// <summary>The list page, newest first, as the API pages it (<c>limit</c>, <c>after_id</c>, <c>before_id</c>).</summary>
    internal string List(int limit, string? afterId, string? beforeId)
    {
        lock (_gate)
        {
            _lists++;
            var newestFirst = Enumerable.Reverse(_order).ToList();
            var start = 0;
            var end = newestFirst.Count;
            if (afterId is not null && newestFirst.IndexOf(afterId) is >= 0 and var a)
            {
                start = a + 1;
            }

            if (beforeId is not null && newestFirst.IndexOf(beforeId) is >= 0 and var b)
            {
                end = b;
                start = Math.Max(0, Math.Min(start, end - limit));
                if (afterId is null)
                {
                    start = Math.Max(0, end - limit);
                }
            }

            var page = newestFirst.Skip(start).Take(Math.Min(limit, Math.Max(0, end - start))).ToList();
            var data = new JsonArray([.. page.Select(id => JsonNode.Parse(Describe(_batches[id], allowEnd: true)))]);
            return new JsonObject
            {
                ["data"] = data,
                ["has_more"] = start + page.Count < end,
                ["first_id"] = page.Count > 0 ? page[0] : null,
                ["last_id"] = page.Count > 0 ? page[^1] : null,
            }.ToJsonString(ReplyBodies.Wire);
        }
    }

    /// <summary>Starts canceling a batch; the batch object, or null when unknown.</summary>
    internal string? Cancel(string batchId)
    {
        lock (_gate)
        {
            _cancels++;
            if (!_batches.TryGetValue(batchId, out var batch))
            {
                return null;
            }

            if (!IsEnded(batch))
            {
                batch.CancelInitiatedAt ??= _clock().GetUtcNow();
                return Describe(batch, allowEnd: false);
            }

            return Describe(batch, allowEnd: true);
        }
    }

    /// <summary>The results JSONL, or (null, message) when the batch is unknown or not ended.</summary>
    internal (string? Jsonl, int Status, string? Problem) Results(string batchId)
    {
        lock (_gate)
        {
            _resultDownloads++;
            if (!_batches.TryGetValue(batchId, out var batch))
            {
                return (null, 404, $"No batch found with id '{batchId}'");
            }

            if (!IsEnded(batch))
            {
                return (null, 400, $"Batch {batchId} has not ended yet; results are available once processing_status is 'ended'.");
            }

            var lines = new System.Text.StringBuilder();
            foreach (var line in ResultLines(batch))
            {
                lines.Append(line).Append('\n');
            }

            return (lines.ToString(), 200, null);
        }
    }

    private static IEnumerable<string> ResultLines(Batch batch)
    {
        var template = SharedFixtures.Read("batches/results.jsonl").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var succeededTemplate = JsonNode.Parse(template[0])!["result"]!["message"]!.ToJsonString();
        foreach (var request in batch.Requests)
        {
            var outcome = batch.Outcomes[request.CustomId];
            JsonObject result = outcome.Type switch
            {
                "succeeded" => new JsonObject
                {
                    ["type"] = "succeeded",
                    ["message"] = JsonNode.Parse(ReplyBodies.Message(
                        succeededTemplate,
                        ModelSnapshots.Resolve(request.Params["model"]?.GetValue<string>() ?? "claude-haiku-4-5"),
                        outcome.Usage)),
                },
                "errored" => new JsonObject
                {
                    ["type"] = "errored",
                    ["error"] = new JsonObject
                    {
                        ["type"] = "error",
                        ["error"] = new JsonObject { ["type"] = outcome.ErrorType, ["message"] = outcome.ErrorMessage },
                        ["request_id"] = null,
                    },
                },
                _ => new JsonObject { ["type"] = outcome.Type },
            };
            yield return new JsonObject { ["custom_id"] = request.CustomId, ["result"] = result }.ToJsonString(ReplyBodies.Wire);
        }
    }

    private bool IsEnded(Batch batch)
    {
        if (batch.EndedAt is not null)
        {
            return true;
        }

        var now = _clock().GetUtcNow();
        var canceled = batch.CancelInitiatedAt is not null;
        var due = batch.ForceEnded || canceled || (batch.Polls > InProgressPolls && now - batch.CreatedAt >= ProcessingTime);
        if (!due)
        {
            return false;
        }

        // Decide every outcome once, at the end; a canceled batch cancels what was not processed (here: everything
        // the script would have succeeded).
        foreach (var request in batch.Requests)
        {
            var outcome = request.Problem is { } problem
                ? FakeBatchOutcome.Errored("invalid_request_error", problem)
                : Outcome?.Invoke(request.CustomId, request.Params) ?? FakeBatchOutcome.Succeeded();
            if (canceled && outcome.Type == "succeeded" && FinishesWhenCanceled?.Invoke(request.CustomId, request.Params) != true)
            {
                outcome = FakeBatchOutcome.Canceled;
            }

            batch.Outcomes[request.CustomId] = outcome;
        }

        batch.EndedAt = now;
        return true;
    }

    private string Describe(Batch batch, bool allowEnd)
    {
        var ended = allowEnd ? IsEnded(batch) : batch.EndedAt is not null;
        var node = JsonNode.Parse(SharedFixtures.Read(ended ? "batches/batch-ended.json" : "batches/batch-in_progress.json"))!.AsObject();
        node["id"] = batch.Id;
        node["processing_status"] = ended ? "ended" : batch.CancelInitiatedAt is not null ? "canceling" : "in_progress";
        var counts = new JsonObject
        {
            ["processing"] = ended ? 0 : batch.Requests.Count,
            ["succeeded"] = ended ? batch.Outcomes.Values.Count(o => o.Type == "succeeded") : 0,
            ["errored"] = ended ? batch.Outcomes.Values.Count(o => o.Type == "errored") : 0,
            ["canceled"] = ended ? batch.Outcomes.Values.Count(o => o.Type == "canceled") : 0,
            ["expired"] = ended ? batch.Outcomes.Values.Count(o => o.Type == "expired") : 0,
        };
        node["request_counts"] = counts;
        node["created_at"] = Stamp(batch.CreatedAt);
        node["expires_at"] = Stamp(batch.CreatedAt.AddHours(24));
        node["ended_at"] = batch.EndedAt is { } endedAt ? Stamp(endedAt) : null;
        node["cancel_initiated_at"] = batch.CancelInitiatedAt is { } cancel ? Stamp(cancel) : null;
        node["archived_at"] = null;
        node["results_url"] = ended ? $"https://api.anthropic.com/v1/messages/batches/{batch.Id}/results" : null;
        return node.ToJsonString(ReplyBodies.Wire);
    }

    private static string Stamp(DateTimeOffset at) =>
        at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex CustomIdPattern();

    private sealed record BatchRequest(string CustomId, JsonObject Params, string? Problem);

    private sealed class Batch(string id, DateTimeOffset createdAt, List<BatchRequest> requests)
    {
        public string Id { get; } = id;

        public DateTimeOffset CreatedAt { get; } = createdAt;

        public List<BatchRequest> Requests { get; } = requests;

        public Dictionary<string, FakeBatchOutcome> Outcomes { get; } = new(StringComparer.Ordinal);

        public int Polls { get; set; }

        public bool ForceEnded { get; set; }

        public DateTimeOffset? EndedAt { get; set; }

        public DateTimeOffset? CancelInitiatedAt { get; set; }
    }
}

/// <summary>
/// One answer of the fake's Message Batches API as it is about to be written — which call, for which batch, the
/// status and the body — so a test can make the upstream lie (<see cref="FakeBatches.Lie"/>): drop or change a field,
/// repeat another batch's id, answer garbage or a 500, mangle the results JSONL. The batch state behind it is real:
/// a create that is answered with a lie still created the batch.
/// </summary>
/// <param name="Call"><c>create</c>, <c>retrieve</c>, <c>list</c>, <c>cancel</c> or <c>results</c>.</param>
/// <param name="BatchId">The batch the call is about (for a create: the id the honest answer carries); null for a list or a refused create.</param>
/// <param name="Status">The HTTP status.</param>
/// <param name="Body">The body: the JSON object, the error JSON, or (results) the JSONL.</param>
public sealed record FakeBatchAnswer(string Call, string? BatchId, int Status, string Body)
{
    /// <summary>The same answer with the JSON body changed by <paramref name="edit"/> (e.g. a field removed).</summary>
    public FakeBatchAnswer EditJson(Action<JsonObject> edit)
    {
        ArgumentNullException.ThrowIfNull(edit);
        var node = JsonNode.Parse(Body)!.AsObject();
        edit(node);
        return this with { Body = node.ToJsonString() };
    }

    /// <summary>The same answer without the top-level field <paramref name="name"/>.</summary>
    public FakeBatchAnswer Without(string name) => EditJson(o => o.Remove(name));

    /// <summary>The same answer with the top-level field <paramref name="name"/> set to <paramref name="value"/>.</summary>
    public FakeBatchAnswer With(string name, JsonNode? value) => EditJson(o => o[name] = value);

    /// <summary>The results JSONL with each line passed through <paramref name="edit"/> (null drops the line; more lines may be added by returning them joined with <c>\n</c>).</summary>
    public FakeBatchAnswer EditLines(Func<string, string?> edit)
    {
        ArgumentNullException.ThrowIfNull(edit);
        var lines = Body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(edit).Where(l => l is not null);
        return this with { Body = string.Join('\n', lines) + "\n" };
    }

    /// <summary>A 200 with a body that is not JSON.</summary>
    public FakeBatchAnswer Garbage() => this with { Status = 200, Body = "<html><body>upstream proxy error</body></html>" };

    /// <summary>An <c>api_error</c> with <paramref name="status"/> (500 unless said).</summary>
    public FakeBatchAnswer Failing(int status = 500) =>
        this with { Status = status, Body = "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"},\"request_id\":null}" };
}
