using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

public sealed class LedgerIdsTests
{
    [Fact]
    public void Ids_sort_by_time_and_are_unique()
    {
        var ids = Enumerable.Range(0, 1_000).Select(i => LedgerIds.New(LedgerRecords.Start.AddMilliseconds(i))).ToList();

        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Equal(32, id.Length));
    }
}

public sealed class LedgerIdsFormatTests
{
    [Fact]
    public void NewGuid_is_a_version_7_uuid_carrying_the_millisecond()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_763_900_000_123);
        var id = LedgerIds.NewGuid(at);
        var text = id.ToString("N");

        Assert.Equal(7, id.Version);
        Assert.Equal(0b10, id.Variant >> 2); // RFC 9562 variant 10xx
        Assert.Equal(at.ToUnixTimeMilliseconds(), Convert.ToInt64(text[..12], 16));
    }

    [Fact]
    public void NewGuid_is_unique_within_one_millisecond_across_threads()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(1_763_900_000_000);
        var ids = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        Parallel.For(0, 8, _ =>
        {
            for (var i = 0; i < 25_000; i++)
            {
                ids.Add(LedgerIds.NewGuid(at));
            }
        });

        Assert.Equal(200_000, ids.Distinct().Count());
    }

    [Fact]
    public void NewGuid_refuses_a_moment_before_the_Unix_epoch() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => LedgerIds.NewGuid(DateTimeOffset.UnixEpoch.AddMilliseconds(-1)));
}
