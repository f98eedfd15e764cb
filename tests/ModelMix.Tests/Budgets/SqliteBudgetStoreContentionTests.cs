using ModelMix.Budgets;
using ModelMix.Ledger;

namespace ModelMix.Tests.Budgets;

/// <summary>
/// Each write operation of <see cref="SqliteBudgetStore"/> run many times while a ledger on the same file (another
/// process's, or this one's writer) commits batches without pause: every call succeeds and the money adds up. What it pins is that each operation's
/// transaction takes the file's write lock when it begins (<c>BEGIN IMMEDIATE</c>, waiting for it): a deferred transaction
/// that reads first and writes after the other process committed fails with <c>SQLITE_BUSY_SNAPSHOT</c> (Microsoft.Data.Sqlite
/// retries it until the busy timeout passes, in vain: its snapshot is stale), so a store taking the lock late would fail
/// budget operations under ordinary concurrency. (docs/testing.md, the <c>budgets-sqlite</c> area's <c>deferred: false</c>
/// → <c>true</c> mutants, once listed as equivalent.) Money by hand in the cases: a $1 day cap on key:k1 for the store
/// under test; the ledger's records are no reservation's and no lease's, so they charge nothing.
/// </summary>
public sealed class SqliteBudgetStoreContentionTests() : BudgetAndLedgerFileFixture("modelmix-budget-contention-tests")
{
    private const int Calls = 40;
    private const long Nanos = BudgetMoney.NanosPerUsd;
    private static readonly TimeSpan Ttl = TimeSpan.FromMinutes(15);
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Day0 = new(2026, 3, 14, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Each operation, and key:k1's usage (spent, held) once its 40 calls are done.</summary>
    public static TheoryData<string, decimal, decimal> Operations => new()
    {
        // 40 reservations of $0.01: held 0.4.
        { "reserve", 0m, 0.4m },

        // 40 reservations of $0.01 (made first), each settled at $0.005: spent 40 × 0.005 = 0.2, nothing held.
        { "settle", 0.2m, 0m },

        // 40 times: reserve $0.01 for 15 min, then sweep at T0 + 15 min: each reclaimed (no ledger in the file: charged 0).
        { "reconcile", 0m, 0m },

        // One lease grown 40 times by $0.01 (room enough, share 1): held 0.4.
        { "grow", 0m, 0.4m },

        // One lease of $0.4 (taken first) shrunk 40 times by $0.01, nothing spent on it: held 0.
        { "shrink", 0m, 0m },

        // 40 leases of $0.01 (taken first), each closed with nothing spent: held 0.
        { "close", 0m, 0m },
    };

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Every_call_succeeds_while_another_store_on_the_file_writes_and_the_money_adds_up(string operation, decimal spent, decimal held)
    {
        var reservations = new List<BudgetReservation>();
        switch (operation)
        {
            case "settle":
                for (var i = 0; i < Calls; i++)
                {
                    reservations.Add((await Store.ReserveAsync($"req-{i}", [Daily("key:k1")], 0.01m, T0, Ttl)).Reservation!);
                }

                break;
            case "shrink":
                Assert.Equal(Calls * Nanos / 100, await Store.GrowLeaseAsync("lse_one", create: true, "inst-1", [Daily("key:k1")], 0, Calls * Nanos / 100, 1m, T0, T0 + Ttl));
                break;
            case "close":
                for (var i = 0; i < Calls; i++)
                {
                    Assert.Equal(Nanos / 100, await Store.GrowLeaseAsync($"lse_{i}", create: true, "inst-1", [Daily("key:k1")], 0, Nanos / 100, 1m, T0, T0 + Ttl));
                }

                break;
        }

        // The other writer: a ledger batch of one record, again and again until the calls are done (a writer the budget store
        // code is no part of, so a mutant of that code changes only the calls). The calls start once it has committed once,
        // so they run against its commits throughout.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = false;
        var otherWrites = Task.Run(async () =>
        {
            var count = 0;
            while (!Volatile.Read(ref done))
            {
                await Ledger.WriteBatchAsync([BudgetTestRecords.Record($"other-{count}", 0.001m, T0)]);
                count++;
                started.TrySetResult();
            }

            return count;
        });

        await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        try
        {
            for (var i = 0; i < Calls; i++)
            {
                await CallAsync(operation, i, reservations);
            }
        }
        finally
        {
            Volatile.Write(ref done, true);
        }

        var rounds = await otherWrites.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(new BudgetUsage(BudgetWindow.Day, Day0, spent, held), await Store.GetUsageAsync("key:k1", BudgetWindow.Day, T0));

        // Every batch of the other writer is there too.
        Assert.Equal(rounds, await Ledger.CountAsync(new LedgerQuery()));
    }

    private async Task CallAsync(string operation, int i, List<BudgetReservation> reservations)
    {
        switch (operation)
        {
            case "reserve":
                Assert.True((await Store.ReserveAsync($"req-{i}", [Daily("key:k1")], 0.01m, T0, Ttl)).Succeeded);
                break;
            case "settle":
                await Store.SettleAsync(reservations[i], 0.005m);
                break;
            case "reconcile":
                Assert.True((await Store.ReserveAsync($"req-{i}", [Daily("key:k1")], 0.01m, T0, Ttl)).Succeeded);
                Assert.Equal(1, await Store.ReconcileExpiredAsync(T0 + Ttl));
                break;
            case "grow":
                Assert.Equal(Nanos / 100, await Store.GrowLeaseAsync("lse_one", create: i == 0, "inst-1", [Daily("key:k1")], 0, Nanos / 100, 1m, T0, T0 + Ttl));
                break;
            case "shrink":
                Assert.Equal(0, await Store.ShrinkLeaseAsync("lse_one", Nanos / 100, T0 + Ttl));
                break;
            case "close":
                await Store.CloseLeasesAsync([$"lse_{i}"], T0);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation, "no such case");
        }
    }

    private static BudgetLimit Daily(string scope) => new(scope, scope, BudgetWindow.Day, 1m);
}
