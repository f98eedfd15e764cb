using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using FakeAnthropic;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.IntegrationTests.Support;
using ModelMix.Ledger;

namespace ModelMix.IntegrationTests.Batching;

/// <summary>
/// The batcher against a Message Batches upstream that lies — answers missing fields, unknown statuses, another
/// batch's id, garbage, 500s, results files with garbage lines, strangers' custom_ids or missing results — one test
/// per lie. Whatever it says, the proxy keeps serving, other jobs carry on, and the job it lied about either recovers
/// or ends errored and quarantined with the reason, after at most <c>MaxJobFailures</c> tries.
/// </summary>
public sealed class BatchLyingUpstreamTests
{
    /// <summary>How long a job may take to end (or be quarantined) under the fast settings below.</summary>
    internal static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    internal const int MaxFailures = 3;

    /// <summary>Fast polls and retries, and quarantine after <see cref="MaxFailures"/> faults.</summary>
    internal static void FastFaults(Dictionary<string, string?> settings)
    {
        BatchProxyTests.FastBatches(settings);
        settings["ModelMix:Batch:MaxJobFailures"] = MaxFailures.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["ModelMix:Batch:RetryDelay"] = "00:00:00.050";
        settings["ModelMix:Batch:MaxRetryDelay"] = "00:00:00.200";
    }

    /// <summary>A Messages body whose prompt carries <paramref name="marker"/>, so a lie can pick its batch or result line.</summary>
    internal static string Ticket(string marker, long maxTokens = 64) =>
        $$"""{"model":"claude-haiku-4-5","max_tokens":{{maxTokens}},"messages":[{"role":"user","content":"Summarize ticket {{marker}}."}]}""";

    /// <summary>Whether the upstream batch of <paramref name="answer"/> holds a request whose prompt carries <paramref name="marker"/>.</summary>
    internal static bool Holds(FakeBatches batches, FakeBatchAnswer answer, string marker) =>
        answer.BatchId is { } id && batches.RequestsOf(id).Any(r => Prompt(r.Params).Contains(marker, StringComparison.Ordinal));

    /// <summary>Whether the results line is for a request whose prompt carries <paramref name="marker"/>.</summary>
    internal static bool LineIs(FakeBatches batches, FakeBatchAnswer answer, string line, string marker)
    {
        var customId = JsonNode.Parse(line)?["custom_id"]?.GetValue<string>();
        return batches.RequestsOf(answer.BatchId!).Any(r => r.CustomId == customId && Prompt(r.Params).Contains(marker, StringComparison.Ordinal));
    }

    private static string Prompt(JsonObject parameters) => parameters["messages"]![0]!["content"]!.GetValue<string>();

    [Fact]
    public async Task A_create_answer_without_an_id_is_reconciled_against_the_batch_list_and_the_job_completes()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a is { Call: "create", Status: 200 } ? a.Without("id") : null;
        using var http = proxy.Http();

        var jobId = await SubmitAsync(http, "one", "two");
        var job = await WaitForEndAsync(proxy, http, jobId);

        Assert.Equal(2, Count(job, "succeeded"));
        Assert.Equal(1, proxy.Fake.Batches.CreateCount); // the batch it made was adopted, not made again
        Assert.Null(job["quarantined_at"]?.GetValue<string>());
        Assert.Contains("\"id\"", job["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, job["failure_count"]!.GetValue<int>()); // collected: the fault is behind it
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task A_create_answer_without_an_id_that_the_batch_list_does_not_show_is_quarantined_after_MaxJobFailures_creates()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a switch
        {
            { Call: "create", Status: 200 } => a.Without("id"),
            { Call: "list" } => a.With("data", new JsonArray()).With("has_more", false),
            _ => null,
        };
        using var http = proxy.Http();

        var jobId = await SubmitAsync(http, "lost");
        var job = await WaitForEndAsync(proxy, http, jobId);

        AssertQuarantined(job, "\"id\"");
        Assert.Equal(MaxFailures, proxy.Fake.Batches.CreateCount); // tried MaxJobFailures times, never again
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 1);
        Assert.Equal(("batch_quarantined", 0m), (Assert.Single(records).ErrorType, records[0].Cost!.Value.Total));
        await Task.Delay(500);
        Assert.Equal(MaxFailures, proxy.Fake.Batches.CreateCount);
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task A_create_answer_without_processing_status_is_not_needed_and_the_job_completes()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a is { Call: "create", Status: 200 } ? a.Without("processing_status") : null;
        using var http = proxy.Http();

        var job = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "fine"));

        Assert.Equal(1, Count(job, "succeeded"));
        await AssertServingAsync(proxy);
    }

    /// <summary>A poll answer that lies about the batch: no status, an unknown one, garbage, or a 404.</summary>
    private static FakeBatchAnswer PollLie(FakeBatchAnswer answer, string lie) => lie switch
    {
        "missing" => answer.Without("processing_status"),
        "unknown" => answer.With("processing_status", "exploded"),
        "garbage" => answer.Garbage(),
        _ => answer with { Status = 404, Body = """{"type":"error","error":{"type":"not_found_error","message":"No batch found"}}""" },
    };

    [Theory]
    [InlineData("missing")]
    [InlineData("unknown")]
    [InlineData("garbage")]
    [InlineData("not-found")]
    public async Task A_poll_answer_that_lies_about_the_batch_quarantines_its_job_after_MaxJobFailures_polls_charging_its_sent_requests_their_worst_case(string lie)
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults, new AnchoredClock()); // the day window read at the end is the one charged
        var retrieves = 0;
        proxy.Fake.Batches.Lie = a =>
        {
            switch (a.Call)
            {
                case "retrieve":
                    if (proxy.Fake.Batches.CancelCount == 0)
                    {
                        Interlocked.Increment(ref retrieves); // the polls before the quarantine (after it, the batcher looks for results to correct its charges)
                    }

                    return PollLie(a, lie);
                case "results":
                    return a.Failing(500); // the answers the upstream processed cannot be had either
                default:
                    return null;
            }
        };
        var key = await BatchBudgetTests.CreateKeyAsync(proxy, "1/day");
        using var http = BatchBudgetTests.Http(proxy, key.Key);

        var jobId = await SubmitAsync(http, "a", "b");
        var job = await WaitForEndAsync(proxy, http, jobId);

        AssertQuarantined(job, lie switch
        {
            "missing" => "processing_status",
            "unknown" => "exploded",
            "garbage" => "JSON",
            _ => "404",
        });
        Assert.Equal(2, Count(job, "errored"));
        Assert.Equal(MaxFailures, Volatile.Read(ref retrieves));
        Assert.Equal(1, proxy.Fake.Batches.CreateCount); // never sent again: the upstream may have processed it
        await BatchProxyTests.WaitUntilAsync(() => proxy.Fake.Batches.CancelCount == 1); // and its batch is canceled upstream, best effort (right after)
        var lines = (await http.GetStringAsync($"v1/modelmix/batch/{job["id"]}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.Equal("batch_quarantined", JsonNode.Parse(l)!["result"]!["error"]!["error"]!["type"]!.GetValue<string>()));

        // The upstream may have processed (and billed) both: each is charged its documented worst case, flagged
        // estimated. Params {"model":"claude-haiku-4-5","max_tokens":64,…"Summarize ticket a."}]} are 105 bytes =
        // ⌈105/4⌉ = 27 input tokens, plus max_tokens 64 of output, at Haiku 4.5's batch rates ($0.50 / $2.50 per MTok):
        // 27 × 0.50/1e6 + 64 × 2.50/1e6 = 0.0000135 + 0.00016 = 0.0001735 each.
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 2);
        Assert.All(records, r =>
        {
            Assert.Equal(("batch_quarantined", true, 27L, 64L), (r.ErrorType, r.UsageEstimated, r.Usage.InputTokens, r.Usage.OutputTokens));
            Assert.Equal(0.0001735m, r.Cost!.Value.Total);
        });
        var usage = await BatchBudgetTests.WaitSettledAsync(proxy, key.Info.BudgetScope);
        Assert.Equal((0m, 2 * 0.0001735m), (usage.ReservedUsd, usage.SpentUsd)); // the hold settled to the estimates
        await AssertServingAsync(proxy, key.Key);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("garbage")]
    [InlineData("not-found")]
    public async Task A_poll_answer_that_lies_about_a_batch_whose_results_are_there_collects_them_before_quarantining_anything(string lie)
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a.Call == "retrieve" ? PollLie(a, lie) : null;
        using var http = proxy.Http();

        var job = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "a", "b"));

        // After MaxJobFailures lies the batcher looks for the results once more: the upstream processed the batch, so
        // they are collected and billed as usual instead of being thrown away at $0.
        Assert.Equal(2, Count(job, "succeeded"));
        Assert.Null(job["quarantined_at"]?.GetValue<string>());
        Assert.Equal(0, job["failure_count"]!.GetValue<int>()); // collected: progress
        Assert.Equal(1, proxy.Fake.Batches.CreateCount);
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 2);
        Assert.Equal(2, records.Count(r => r is { Status: LedgerStatus.Ok, UsageEstimated: false } && r.Cost!.Value.Total > 0));
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task A_quarantined_jobs_batch_that_ends_after_its_cancel_corrects_the_worst_case_charges_to_the_reported_usage_in_ledger_rollups_and_budget()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults, new AnchoredClock());
        var batches = proxy.Fake.Batches;
        batches.InProgressPolls = int.MaxValue; // it ends only when canceled
        // Request "a" is in progress and non-interruptible when the batch is canceled: it completes (the fixture's usage,
        // 52 input / 31 output tokens); "b" is canceled.
        batches.FinishesWhenCanceled = (_, p) => Prompt(p).Contains("ticket a.", StringComparison.Ordinal);
        var lying = 1;
        batches.Lie = a =>
        {
            if (a.Call == "cancel")
            {
                Volatile.Write(ref lying, 0); // after the quarantine's cancel the upstream answers honestly again
                return null;
            }

            return Volatile.Read(ref lying) == 0 ? null : a.Call switch
            {
                "retrieve" => a.Without("processing_status"),
                "results" => a.Failing(500),
                _ => null,
            };
        };
        var key = await BatchBudgetTests.CreateKeyAsync(proxy, "1/day");
        using var http = BatchBudgetTests.Http(proxy, key.Key);

        var job = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "a", "b"));
        AssertQuarantined(job, "processing_status");
        await BatchProxyTests.WaitUntilAsync(() => batches.CancelCount == 1);

        // The canceled batch ends; its results are collected and correct the two worst-case records (0.0001735 each, see
        // the lying-poll test above) to what the upstream reports: "a" 52 input + 31 output tokens at Haiku 4.5's batch
        // rates = 52 × 0.50/1e6 + 31 × 2.50/1e6 = 0.000026 + 0.0000775 = 0.0001035; "b" canceled = 0.
        var records = await ReadCorrectedAsync(proxy.DbPath);
        var byMarker = records.ToDictionary(r => r.Usage.OutputTokens == 0 ? "b" : "a");
        Assert.Equal((52L, 31L, 0.0001035m, false), (byMarker["a"].Usage.InputTokens, byMarker["a"].Usage.OutputTokens, byMarker["a"].Cost!.Value.Total, byMarker["a"].UsageEstimated));
        Assert.Equal((0L, 0L, 0m, false), (byMarker["b"].Usage.InputTokens, byMarker["b"].Usage.OutputTokens, byMarker["b"].Cost!.Value.Total, byMarker["b"].UsageEstimated));
        Assert.All(records, r => Assert.Equal((LedgerStatus.Error, "batch_quarantined"), (r.Status, r.ErrorType))); // the job's outcome stands

        // The rollups the writer keeps say the same as the raw rows.
        await using (var store = new SqliteLedgerStore(proxy.DbPath))
        {
            await store.MigrateAsync();
            var rollups = new List<LedgerRollup>();
            await foreach (var rollup in store.ReadRollupsAsync(null, null))
            {
                rollups.Add(rollup);
            }

            var errors = rollups.Where(r => r.Status == LedgerStatus.Error).ToList(); // the two quarantined records (the sync call at the end is not written yet)
            Assert.Equal((2L, 0L, 31L, 31L, 0.0001035m), (errors.Sum(r => r.Calls), errors.Sum(r => r.EstimatedCalls), errors.Sum(r => r.Usage.OutputTokens), errors.Max(r => r.MaxOutputTokens), errors.Sum(r => r.Cost.Total)));
        }

        // The job's hold settled once, to the corrected cost.
        var usage = await BatchBudgetTests.WaitSettledAsync(proxy, key.Info.BudgetScope);
        Assert.Equal((0m, 0.0001035m), (usage.ReservedUsd, usage.SpentUsd));
        await AssertServingAsync(proxy, key.Key);
    }

    /// <summary>The two records of the quarantined job once neither is estimated any more (or as they are after the patience).</summary>
    private static async Task<List<LedgerRecord>> ReadCorrectedAsync(string db)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var records = (await BatchProxyTests.ReadLedgerAsync(db, 2)).Where(r => r.ErrorType == "batch_quarantined").ToList();
            if ((records.Count == 2 && records.All(r => !r.UsageEstimated)) || clock.Elapsed > Patience)
            {
                return records;
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Fast faults, and a give-up on a batch not collected one second after its create.</summary>
    private static void FastGiveUp(Dictionary<string, string?> settings)
    {
        FastFaults(settings);
        settings["ModelMix:Batch:GiveUpAfter"] = "00:00:01";
    }

    [Fact]
    public async Task A_batch_whose_polls_answer_500_forever_is_given_up_after_GiveUpAfter_its_requests_charged_their_worst_case_and_its_hold_settled()
    {
        // GiveUpAfter 3 s, not FastGiveUp's 1 s: a retry delay of 50–200 ms leaves room for several polls even when a
        // loaded machine takes over a second to reach the first one (the ≥ 2 polls below failed once at load ≈ 60).
        await using var proxy = await ProxyHarness.StartAsync(s => { FastGiveUp(s); s["ModelMix:Batch:GiveUpAfter"] = "00:00:03"; }, new AnchoredClock());
        var retrieves = 0;
        proxy.Fake.Batches.Lie = a =>
        {
            if (a.Call == "retrieve")
            {
                Interlocked.Increment(ref retrieves);
            }

            return a.Call is "retrieve" or "results" or "cancel" ? a.Failing(500) : null;
        };
        var key = await BatchBudgetTests.CreateKeyAsync(proxy, "1/day");
        using var http = BatchBudgetTests.Http(proxy, key.Key);

        var jobId = await SubmitAsync(http, "a", "b");
        var job = await WaitForEndAsync(proxy, http, jobId);

        Assert.NotNull(job["quarantined_at"]?.GetValue<string>());
        Assert.Equal(0, job["failure_count"]!.GetValue<int>()); // 500s never count: it was the give-up that ended it
        var reason = job["last_error"]!.GetValue<string>();
        Assert.Contains("GiveUpAfter", reason, StringComparison.Ordinal);
        Assert.Contains("500", reason, StringComparison.Ordinal);
        Assert.Equal(2, Count(job, "errored"));
        Assert.True(Volatile.Read(ref retrieves) >= 2, $"{retrieves} polls"); // polled with back-off until the give-up

        // Worst case of each, as in the lying-poll test: 27 input + 64 output tokens at Haiku 4.5's batch rates = $0.0001735.
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 2);
        Assert.All(records, r => Assert.Equal(("batch_quarantined", true, 0.0001735m), (r.ErrorType, r.UsageEstimated, r.Cost!.Value.Total)));
        var usage = await BatchBudgetTests.WaitSettledAsync(proxy, key.Info.BudgetScope);
        Assert.Equal((0m, 2 * 0.0001735m), (usage.ReservedUsd, usage.SpentUsd));

        // Given up means no longer polled.
        var after = Volatile.Read(ref retrieves);
        await Task.Delay(1000);
        Assert.Equal(after, Volatile.Read(ref retrieves));
        await AssertServingAsync(proxy, key.Key);
    }

    [Fact]
    public async Task A_batch_the_upstream_says_is_in_progress_forever_is_given_up_after_GiveUpAfter_and_canceled_upstream()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastGiveUp);
        proxy.Fake.Batches.Lie = a => a is { Call: "retrieve", Status: 200 } ? a.With("processing_status", "in_progress") : null;
        proxy.Fake.Batches.ProcessingTime = TimeSpan.FromDays(1); // and it is not done: no results to be had
        using var http = proxy.Http();

        var job = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "slow"));

        Assert.NotNull(job["quarantined_at"]?.GetValue<string>());
        Assert.Contains("still in_progress", job["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(1, Count(job, "errored"));
        await BatchProxyTests.WaitUntilAsync(() => proxy.Fake.Batches.CancelCount == 1);
        var record = Assert.Single(await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 1));
        Assert.True(record.UsageEstimated);
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task A_results_file_that_repeats_a_custom_id_records_and_stores_that_request_once()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a is { Call: "results", Status: 200 }
            ? a.EditLines(line => LineIs(proxy.Fake.Batches, a, line, "twice") ? line + "\n" + line.Replace("\"succeeded\"", "\"errored\"", StringComparison.Ordinal) : line)
            : null;
        using var http = proxy.Http();

        var job = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "once", "twice"));

        Assert.Equal(2, Count(job, "succeeded")); // the first line for it counts; the repeat is a stranger, skipped
        // The job has ended, so every record it made is in the ledger's buffer at least: flushed, the repeat would show.
        await proxy.Ledger.FlushAsync();
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 2);
        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal(LedgerStatus.Ok, r.Status));
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task A_batch_id_repeated_for_a_second_job_is_never_taken_twice_and_both_jobs_complete()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        using var http = proxy.Http();
        var first = await SubmitAsync(http, "first");
        await BatchProxyTests.WaitUntilAsync(() => proxy.Fake.Batches.CreateCount == 1);
        var firstBatch = proxy.Fake.Batches.BatchIds[0];
        proxy.Fake.Batches.Lie = a => a is { Call: "create", Status: 200 } ? a.With("id", firstBatch) : null;

        var second = await SubmitAsync(http, "second");
        var secondJob = await WaitForEndAsync(proxy, http, second);
        var firstJob = await WaitForEndAsync(proxy, http, first);

        Assert.Equal(1, Count(firstJob, "succeeded"));
        Assert.Equal(1, Count(secondJob, "succeeded"));
        Assert.Equal(2, proxy.Fake.Batches.CreateCount); // the second job's real batch was found in the list and adopted
        Assert.Contains(firstBatch, secondJob["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(2, (await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 2)).Count(r => r.Status == LedgerStatus.Ok));
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task Garbage_for_a_create_answer_is_reconciled_against_the_batch_list_and_the_job_completes()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a is { Call: "create", Status: 200 } ? a.Garbage() : null;
        using var http = proxy.Http();

        var job = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "x"));

        Assert.Equal(1, Count(job, "succeeded"));
        Assert.Equal(1, proxy.Fake.Batches.CreateCount);
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task Answers_of_500_back_off_are_not_held_against_the_job_and_do_not_hold_up_another_jobs_batch()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        var down = 1; // the stuck batch's polls and results answer 500 while this is 1
        var failed = 0; // the 500s the stuck batch's polls got
        proxy.Fake.Batches.FailNextCreateWith = 529; // and the first create is refused as overloaded
        proxy.Fake.Batches.Lie = a =>
        {
            if (a.Call is "retrieve" or "results" && Volatile.Read(ref down) == 1 && Holds(proxy.Fake.Batches, a, "stuck"))
            {
                Interlocked.Increment(ref failed);
                return a.Failing(500);
            }

            return null;
        };
        using var http = proxy.Http();

        var stuck = await SubmitAsync(http, "stuck");
        await BatchProxyTests.WaitUntilAsync(() => proxy.Fake.Batches.RetrieveCount > 0);
        var other = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "other"));
        Assert.Equal(1, Count(other, "succeeded")); // not held up by the batch that answers 500

        // More 500s than MaxJobFailures (counted at the fake, not waited for on a timer): they are not the job's fault.
        await BatchProxyTests.WaitUntilAsync(() => Volatile.Read(ref failed) > MaxFailures + 1);
        var waiting = JsonNode.Parse(await http.GetStringAsync($"v1/modelmix/batch/{stuck}"))!;
        Assert.Equal("in_progress", waiting["processing_status"]!.GetValue<string>());
        Assert.Equal(0, waiting["failure_count"]!.GetValue<int>());
        Assert.Contains("500", waiting["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(waiting["quarantined_at"]?.GetValue<string>());

        Volatile.Write(ref down, 0);
        var recovered = await WaitForEndAsync(proxy, http, stuck);
        Assert.Equal(1, Count(recovered, "succeeded"));
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task Garbage_lines_and_strangers_custom_ids_in_a_results_file_are_skipped_and_every_real_result_is_collected()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a is { Call: "results", Status: 200 }
            ? a with { Body = "this is not json\n{\"custom_id\":\"stranger\",\"result\":{\"type\":\"succeeded\"}}\n[1,2]\n{\"custom_id\":42}\n" + a.Body + "{\"trailing\n" }
            : null;
        using var http = proxy.Http();

        var job = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "p", "q", "r"));

        Assert.Equal(3, Count(job, "succeeded"));
        Assert.Equal(3, (await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 3)).Count(r => r.Status == LedgerStatus.Ok));
        Assert.Null(job["quarantined_at"]?.GetValue<string>());
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task A_result_the_upstream_never_returns_quarantines_that_request_after_MaxJobFailures_batches_and_the_answered_ones_keep_their_records()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults, new AnchoredClock()); // the day window read at the end is the one charged
        proxy.Fake.Batches.Lie = a => a is { Call: "results", Status: 200 }
            ? a.EditLines(line => LineIs(proxy.Fake.Batches, a, line, "vanishing") ? null : line)
            : null;
        var key = await BatchBudgetTests.CreateKeyAsync(proxy, "1/day");
        using var http = BatchBudgetTests.Http(proxy, key.Key);

        var jobId = await SubmitAsync(http, "kept-1", "vanishing", "kept-2");
        var job = await WaitForEndAsync(proxy, http, jobId);

        AssertQuarantined(job, "no result");
        Assert.Equal((2, 1), (Count(job, "succeeded"), Count(job, "errored")));
        Assert.Equal(MaxFailures, proxy.Fake.Batches.CreateCount); // first with all three, then the missing one alone
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 3);
        Assert.Equal(2, records.Count(r => r.Status == LedgerStatus.Ok));
        Assert.Equal("batch_quarantined", Assert.Single(records, r => r.Status == LedgerStatus.Error).ErrorType);

        // The job's hold settles to what the ledger has for it: the two answers, nothing for the quarantined one.
        var usage = await BatchBudgetTests.WaitSettledAsync(proxy, key.Info.BudgetScope);
        Assert.Equal(0m, usage.ReservedUsd);
        Assert.Equal(await BatchBudgetTests.JobCostAsync(proxy.DbPath, jobId), usage.SpentUsd);
        Assert.Equal(2 * 0.0001035m, usage.SpentUsd);
        await AssertServingAsync(proxy, key.Key);
    }

    [Fact]
    public async Task A_result_line_the_batcher_cannot_read_errors_that_request_alone_with_the_reason()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a is { Call: "results", Status: 200 }
            ? a.EditLines(line => LineIs(proxy.Fake.Batches, a, line, "broken")
                ? new JsonObject { ["custom_id"] = JsonNode.Parse(line)!["custom_id"]!.GetValue<string>(), ["result"] = new JsonObject { ["type"] = "succeeded" } }.ToJsonString()
                : line)
            : null;
        using var http = proxy.Http();

        var job = await WaitForEndAsync(proxy, http, await SubmitAsync(http, "good", "broken"));

        Assert.Equal((1, 1), (Count(job, "succeeded"), Count(job, "errored")));
        Assert.Null(job["quarantined_at"]?.GetValue<string>()); // one unreadable answer: that request errors, the job is fine
        var broken = (await http.GetStringAsync($"v1/modelmix/batch/{job["id"]}/results")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonNode.Parse(l)!).Single(n => n["custom_id"]!.GetValue<string>() == "c1")["result"]!;
        Assert.Equal("errored", broken["type"]!.GetValue<string>());
        Assert.Equal("batch_invalid_result", broken["error"]!["error"]!["type"]!.GetValue<string>());
        Assert.Contains("message", broken["error"]!["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var records = await BatchProxyTests.ReadLedgerAsync(proxy.DbPath, 2);
        Assert.Equal("batch_invalid_result", Assert.Single(records, r => r.Status == LedgerStatus.Error).ErrorType);
        await AssertServingAsync(proxy);
    }

    [Fact]
    public async Task Modelmix_batch_status_shows_a_quarantined_job_as_ended_with_its_reason_and_wait_returns()
    {
        await using var proxy = await ProxyHarness.StartAsync(FastFaults);
        proxy.Fake.Batches.Lie = a => a.Call switch
        {
            "retrieve" => a.With("processing_status", "on_fire"),
            "results" => a.Failing(503), // no results to collect instead
            _ => null,
        };
        using var http = proxy.Http();
        var jobId = await SubmitAsync(http, "cli");

        var (code, output, error) = await RunCliAsync("batch", "status", jobId, "--wait", "--url", proxy.ProxyUrl.ToString());

        Assert.True(code == 0, error);
        var job = JsonNode.Parse(output)!;
        Assert.Equal("ended", job["processing_status"]!.GetValue<string>());
        AssertQuarantined(job, "unknown processing_status 'on_fire'");
    }

    [Theory]
    [InlineData("ModelMix:Batch:MaxJobFailures", "0")]
    [InlineData("ModelMix:Batch:RetryDelay", "00:00:00")]
    [InlineData("ModelMix:Batch:MaxRetryDelay", "00:00:00.010")]
    public async Task Batch_fault_settings_that_cannot_work_fail_the_start_naming_the_key(string key, string value)
    {
        var failure = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => ProxyHarness.StartAsync(settings =>
        {
            FastFaults(settings);
            settings[key] = value;
        }));
        Assert.Contains(key, failure.Message, StringComparison.Ordinal);
    }

    /// <summary>Runs the built <c>modelmix</c> CLI.</summary>
    internal static async Task<(int Code, string Out, string Err)> RunCliAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Cli.ServeProcess.CliAssemblyPath());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("MODELMIX_API_KEY");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Queues one job of requests whose prompts carry the markers (custom ids c0, c1, …); returns its id.</summary>
    internal static async Task<string> SubmitAsync(HttpClient http, params string[] markers)
    {
        using var response = await http.PostAsync("v1/modelmix/batch", BatchProxyTests.Job(markers.Select((m, i) => $$"""{"custom_id":"c{{i}}","params":{{Ticket(m)}}}""")));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>();
    }

    /// <summary>Waits for the job to end; fails at once, with the proxy's error log, if the proxy's host is stopping.</summary>
    internal static async Task<JsonNode> WaitForEndAsync(ProxyHarness proxy, HttpClient http, string jobId, TimeSpan? patience = null)
    {
        var clock = Stopwatch.StartNew();
        JsonNode? status = null;
        while (true)
        {
            AssertHostRunning(proxy);
            try
            {
                status = JsonNode.Parse(await http.GetStringAsync($"v1/modelmix/batch/{jobId}"))!;
            }
            catch (HttpRequestException exception)
            {
                Assert.Fail($"the proxy stopped answering ({exception.Message}); its log:\n{ErrorLog(proxy)}");
            }

            if (status["processing_status"]!.GetValue<string>() == "ended")
            {
                return status;
            }

            Assert.True(clock.Elapsed < (patience ?? Patience), $"the job wedged: after {clock.Elapsed.TotalSeconds:0} s it is {status.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    internal static void AssertHostRunning(ProxyHarness proxy)
    {
        var lifetime = proxy.Services.GetRequiredService<IHostApplicationLifetime>();
        Assert.False(lifetime.ApplicationStopping.IsCancellationRequested, "the proxy's host is stopping; its log:\n" + ErrorLog(proxy));
    }

    /// <summary>The proxy answers /healthz and a /v1/messages call.</summary>
    internal static async Task AssertServingAsync(ProxyHarness proxy, string? key = null)
    {
        AssertHostRunning(proxy);
        using var http = new HttpClient { BaseAddress = proxy.ProxyUrl, Timeout = TimeSpan.FromSeconds(10) };
        if (key is not null)
        {
            http.DefaultRequestHeaders.Add("x-api-key", key);
        }

        using (var health = await http.GetAsync("healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        using var message = await http.PostAsync("v1/messages", new StringContent(Ticket("sync"), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, message.StatusCode);
    }

    internal static void AssertQuarantined(JsonNode job, string reason)
    {
        Assert.NotNull(job["quarantined_at"]?.GetValue<string>());
        Assert.Equal(MaxFailures, job["failure_count"]!.GetValue<int>());
        Assert.Contains(reason, job["last_error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, Count(job, "queued") + Count(job, "processing"));
    }

    internal static int Count(JsonNode job, string state) => job["request_counts"]![state]!.GetValue<int>();

    private static string ErrorLog(ProxyHarness proxy) =>
        string.Join('\n', proxy.Logs.Lines.Where(l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal) || l.StartsWith("Warning", StringComparison.Ordinal)).TakeLast(8));
}
