using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Threading;

namespace ModelMix.Tests.Threading;

/// <summary>
/// Blocking SQLite work must never run on a thread that is not the thread pool's (with inline socket completions, the
/// socket event thread that serves every connection): <see cref="IoThreads"/> and the stores that use it.
/// </summary>
public sealed class IoThreadsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("modelmix-iothreads-").FullName;

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Leaving_a_dedicated_thread_continues_on_the_thread_pool()
    {
        var (before, after) = await OnDedicatedThread(async () =>
        {
            var onPoolBefore = Thread.CurrentThread.IsThreadPoolThread;
            await IoThreads.LeaveAsync();
            return (onPoolBefore, Thread.CurrentThread.IsThreadPoolThread);
        });

        Assert.False(before);
        Assert.True(after);
    }

    [Fact]
    public async Task On_a_pool_thread_leaving_does_not_hop()
    {
        await Task.Run(async () =>
        {
            var thread = Environment.CurrentManagedThreadId;
            var awaiter = IoThreads.LeaveAsync().GetAwaiter();
            Assert.True(awaiter.IsCompleted);
            await IoThreads.LeaveAsync();
            Assert.Equal(thread, Environment.CurrentManagedThreadId);
        });
    }

    [Fact]
    public async Task A_budget_reservation_waiting_on_the_file_lock_does_not_block_the_calling_thread()
    {
        var path = Path.Combine(_folder, "modelmix.db");
        await using var store = new SqliteBudgetStore(path);
        await store.MigrateAsync();

        // Another connection holds the file's write lock, as the ledger writer does while it commits a batch.
        await using var other = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        await other.OpenAsync();
        var limit = new BudgetLimit("key:k1", "key 'team-a'", BudgetWindow.Day, 1000m);

        // One instant for every call: on the wall clock, rounds that straddled midnight UTC held in two days and the day's
        // usage read at the end missed the first day's holds.
        var at = new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);

        // Many times over, because what once went wrong was a race: the hop to the thread pool sat inside a callee (the
        // write gate), and when the pool thread finished that callee before the caller looked at it, the caller carried on
        // in place and waited on the lock there. Each round costs about a millisecond when the call hands its thread back.
        for (var round = 0; round < Rounds; round++)
        {
            await Execute(other, "BEGIN IMMEDIATE;");

            // Called from a thread that is not the pool's, the reservation must hand the thread back at once and wait
            // for the lock elsewhere; done in place, the call would block that thread until the lock is free.
            Task<BudgetReserveResult>? reservation = null;
            var finishedOnReturn = false;
            using var returned = new ManualResetEventSlim();
            var caller = new Thread(() =>
            {
                reservation = store.ReserveAsync($"req-{round}", [limit], 1m, at, TimeSpan.FromMinutes(5));
                finishedOnReturn = reservation.IsCompleted; // read on the caller's thread the instant the call returns
                returned.Set();
            }) { IsBackground = true };
            caller.Start();

            // What tells the two apart is the task the call returns, not how soon: done in place, the call returns only
            // once the lock wait is over (SQLite's busy timeout, 10 s), with a finished task; handed off, it returns at
            // once with a task still waiting (the lock is held until after this check). The generous wait only allows
            // for a loaded machine starting the caller late.
            Assert.True(returned.Wait(TimeSpan.FromSeconds(60)), "ReserveAsync did not return within 60 s.");
            Assert.False(finishedOnReturn, $"Round {round}: ReserveAsync blocked its calling thread while the file was locked: its task had finished when it returned.");

            await Execute(other, "COMMIT;");
            var result = await reservation!.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(result.Succeeded);
        }

        Assert.Equal(Rounds * 1m, (await store.GetUsageAsync("key:k1", BudgetWindow.Day, at)).ReservedUsd);
    }

    private const int Rounds = 200;

    private static async Task Execute(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task A_disposed_gate_refuses_writers()
    {
        var gate = new SqliteWriterGate(new SqliteStoreFile(Path.Combine(_folder, "gate.db")), "TestStore");
        using (var lease = await gate.EnterAsync(CancellationToken.None))
        {
            Assert.Equal(System.Data.ConnectionState.Open, lease.Connection.State);
        }

        await gate.DisposeAsync();
        var refused = await Assert.ThrowsAsync<ObjectDisposedException>(async () => await gate.EnterAsync(CancellationToken.None));
        Assert.Contains("TestStore", refused.Message);
    }

    private static Task<T> OnDedicatedThread<T>(Func<Task<T>> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            body().ContinueWith(task =>
            {
                if (task.IsFaulted)
                {
                    done.SetException(task.Exception!.InnerExceptions);
                }
                else
                {
                    done.SetResult(task.Result);
                }
            }, TaskScheduler.Default);
        }) { IsBackground = true };
        thread.Start();
        return done.Task;
    }
}
