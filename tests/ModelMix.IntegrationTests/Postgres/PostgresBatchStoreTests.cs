using ModelMix.Batching;
using ModelMix.IntegrationTests.Batching;
using ModelMix.Postgres;
using ModelMix.Tests.Shared;
using Npgsql;

namespace ModelMix.IntegrationTests.Postgres;

/// <summary>
/// The batch store contract on a real PostgreSQL database, and what several replicas on one database add: disjoint
/// claims of queued requests, one job per idempotency key, and one working batcher at a time with failover.
/// </summary>
public sealed class PostgresBatchStoreTests : BatchStoreContractTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 14, 12, 0, 0, TimeSpan.Zero);

    protected override async Task<string> CreateDatabaseAsync() => await (await PostgresServer.GetAsync()).CreateDatabaseAsync("batches");

    protected override Task DeleteDatabaseAsync()
    {
        // The database is left for the cluster's teardown: dropping it would wait for the pools of stores still closing.
        NpgsqlConnection.ClearAllPools();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Three_replicas_claiming_at_once_put_every_queued_request_in_exactly_one_submission()
    {
        var jobs = new List<string>();
        for (var j = 0; j < 6; j++)
        {
            jobs.Add((await Store.CreateJobAsync(new BatchJobInput { Items = Items($"j{j}-", 50) }, T0.AddSeconds(j))).Job.Id);
        }

        var replicas = new[] { NewStore(), NewStore(), NewStore() };
        var claimed = await Task.WhenAll(replicas.Select(async (replica, r) =>
        {
            var mine = new List<(string Submission, string Item)>();
            for (var n = 0; ; n++)
            {
                var taken = await replica.BeginSubmissionAsync($"sub-{r}-{n}", 7, 1_000_000, T0.AddMinutes(1));
                if (taken is not { } submission)
                {
                    return mine;
                }

                Assert.Equal(submission.Items.Count, submission.Submission.Count);
                mine.AddRange(submission.Items.Select(i => (submission.Submission.Id, i.Id)));
            }
        }));

        var all = claimed.SelectMany(c => c).ToList();
        Assert.Equal(300, all.Count);
        Assert.Equal(300, all.Select(c => c.Item).Distinct().Count());
        foreach (var (submission, count) in all.GroupBy(c => c.Submission).Select(g => (g.Key, g.Count())))
        {
            Assert.Equal(count, (await Store.GetSubmittedItemsAsync(submission)).Count);
        }

        foreach (var job in jobs)
        {
            Assert.Equal(50L, (await Store.GetJobAsync(job))!.Processing);
        }

        foreach (var replica in replicas)
        {
            await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_same_idempotency_key_sent_to_several_replicas_at_once_creates_one_job()
    {
        var replicas = Enumerable.Range(0, 4).Select(_ => NewStore()).ToArray();
        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            replicas[i % 4].CreateJobAsync(new BatchJobInput { KeyId = "k1", IdempotencyKey = "nightly-42", Items = Items($"r{i}-", 3) }, T0)));

        Assert.Single(results, r => r.Created);
        Assert.Single(results.Select(r => r.Job.Id).Distinct());
        Assert.Equal(3L, (await Store.GetJobAsync(results[0].Job.Id))!.Total);
        foreach (var replica in replicas)
        {
            await replica.DisposeAsync();
        }
    }

    [Fact]
    public async Task One_replica_holds_the_batch_lease_until_it_releases_it_or_its_session_dies()
    {
        await using var a = (PostgresBatchStore)NewStore();
        await using var b = (PostgresBatchStore)NewStore();

        var leaseA = await a.TryAcquireAsync();
        Assert.NotNull(leaseA);
        Assert.Null(await b.TryAcquireAsync());
        Assert.True(await leaseA.IsHeldAsync());

        // A clean stop releases it at once.
        await leaseA.DisposeAsync();
        Assert.False(await leaseA.IsHeldAsync());
        var leaseB = await b.TryAcquireAsync();
        Assert.NotNull(leaseB);
        Assert.Null(await a.TryAcquireAsync());

        // The holder's session dies (the server ended it, as after a lost client): the lock goes with it, the holder notices.
        await using (var admin = new NpgsqlConnection(Setting))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = @c AND objid::bigint = @o AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database());",
                admin);
            kill.Parameters.AddWithValue("c", (long)(PostgresBatchStore.LeaderLockKey >> 32));
            kill.Parameters.AddWithValue("o", PostgresBatchStore.LeaderLockKey & 0xFFFFFFFF);
            Assert.Equal(1L, await kill.ExecuteScalarAsync());
        }

        Assert.False(await leaseB.IsHeldAsync());
        IBatchLease? taken = null;
        for (var i = 0; i < 50 && taken is null; i++)
        {
            taken = await a.TryAcquireAsync();
            if (taken is null)
            {
                await Task.Delay(100);
            }
        }

        Assert.NotNull(taken);
        await leaseB.DisposeAsync();
        await taken.DisposeAsync();
    }
}
