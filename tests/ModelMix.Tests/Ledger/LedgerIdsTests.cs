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
