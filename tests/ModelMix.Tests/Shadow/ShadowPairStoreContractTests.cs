using System.Globalization;
using ModelMix.Ledger;
using ModelMix.Pricing;
using ModelMix.Shadow;

namespace ModelMix.Tests.Shadow;

/// <summary>
/// The contract of the ledger's <c>shadow_pairs</c> table (<see cref="IShadowPairStore"/>), run against each ledger
/// store (SQLite file, PostgreSQL) by a subclass that says how to open a fresh, migrated store.
/// </summary>
public abstract class ShadowPairStoreContractTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Opens a migrated ledger store over this test class's database (the same database on every call).</summary>
    protected abstract Task<ILedgerStore> OpenAsync();

    protected static IShadowPairStore Pairs(ILedgerStore store) => Assert.IsAssignableFrom<IShadowPairStore>(store);

    protected static async Task<List<ShadowPair>> ReadAllAsync(ILedgerStore store, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var list = new List<ShadowPair>();
        await foreach (var pair in Pairs(store).ReadShadowPairsAsync(from, to))
        {
            list.Add(pair);
        }

        return list;
    }

    protected static ShadowPair Pair(string id, DateTimeOffset createdAt, double? agreement = 1.0) => new()
    {
        PairId = id,
        LiveRequestId = "req-" + id,
        TaskLabel = "sentiment",
        LiveModel = "claude-sonnet-4-5",
        ShadowModel = "claude-haiku-4-5",
        Method = ShadowComparison.Exact,
        Agreement = agreement,
        Status = agreement is null ? "shadow_failed" : "ok",
        LiveCostUsd = 0.000612m,
        ShadowCostUsd = agreement is null ? null : 0.000204m,
        LiveInputTokens = 19,
        LiveOutputTokens = 33,
        ShadowInputTokens = agreement is null ? 0 : 19,
        ShadowOutputTokens = agreement is null ? 0 : 33,
        CreatedAt = createdAt,
        CompletedAt = createdAt.AddSeconds(2),
    };

    [Fact]
    public async Task Every_field_round_trips_with_exact_decimal_costs_and_nulls()
    {
        var full = new ShadowPair
        {
            PairId = "01JQ-full",
            LiveRequestId = "req-live-1",
            TaskLabel = "summary ✓",
            LiveModel = "claude-opus-4-6",
            ShadowModel = "claude-haiku-4-5",
            Method = ShadowComparison.Judge,
            Agreement = 0.7321,
            Status = "ok",
            LiveCostUsd = 79228162514264.337593543950335m,
            ShadowCostUsd = 0.000000000001m,
            JudgeCostUsd = 1.10m,
            LiveInputTokens = 4_000_000_000L,
            LiveOutputTokens = 567,
            ShadowInputTokens = 1234,
            ShadowOutputTokens = 89,
            CreatedAt = new DateTimeOffset(2026, 3, 1, 14, 30, 15, 123, TimeSpan.FromHours(2)).AddTicks(4567),
            CompletedAt = new DateTimeOffset(2026, 3, 1, 12, 30, 16, 0, TimeSpan.Zero).AddTicks(1),
            Prompt = "Summarize: \"quoted\" 'single' \n next line",
            LiveAnswer = "A long answer.",
            ShadowAnswer = "A short one.",
        };
        var bare = new ShadowPair
        {
            PairId = "01JQ-bare",
            LiveRequestId = "req-live-2",
            LiveModel = "claude-sonnet-4-5",
            ShadowModel = "claude-haiku-4-5",
            Method = ShadowComparison.Json,
            Agreement = null,
            Status = "judge_failed",
            CreatedAt = full.CreatedAt.AddSeconds(1),
            CompletedAt = full.CreatedAt.AddSeconds(3),
        };

        await using (var store = await OpenAsync())
        {
            await Pairs(store).WriteShadowPairAsync(full);
            await Pairs(store).WriteShadowPairAsync(bare);
        }

        await using var reopened = await OpenAsync();
        var read = await ReadAllAsync(reopened);

        Assert.Equal([full, bare], read);
        Assert.Equal(full.CreatedAt.UtcTicks, read[0].CreatedAt.UtcTicks);
        Assert.Equal(full.CompletedAt.UtcTicks, read[0].CompletedAt.UtcTicks);
        Assert.Equal(TimeSpan.Zero, read[0].CreatedAt.Offset); // read back in UTC
        Assert.Equal("79228162514264.337593543950335", read[0].LiveCostUsd!.Value.ToString(CultureInfo.InvariantCulture));
        Assert.Equal("0.000000000001", read[0].ShadowCostUsd!.Value.ToString(CultureInfo.InvariantCulture));
        Assert.Equal("1.10", read[0].JudgeCostUsd!.Value.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(0.7321, read[0].Agreement);
        Assert.Null(read[1].TaskLabel);
        Assert.Null(read[1].Agreement);
        Assert.Null(read[1].LiveCostUsd);
        Assert.Null(read[1].ShadowCostUsd);
        Assert.Null(read[1].JudgeCostUsd);
        Assert.Null(read[1].Prompt);
        Assert.Null(read[1].LiveAnswer);
        Assert.Null(read[1].ShadowAnswer);
    }

    [Fact]
    public async Task Time_filters_take_from_inclusive_and_to_exclusive_in_creation_order()
    {
        await using var store = await OpenAsync();
        var pairs = Pairs(store);
        await pairs.WriteShadowPairAsync(Pair("p3", T0.AddSeconds(3)));
        await pairs.WriteShadowPairAsync(Pair("p1b", T0.AddSeconds(1)));
        await pairs.WriteShadowPairAsync(Pair("p0", T0));
        await pairs.WriteShadowPairAsync(Pair("p1a", T0.AddSeconds(1)));
        await pairs.WriteShadowPairAsync(Pair("p2", T0.AddSeconds(2).AddTicks(-1)));

        Assert.Equal(["p0", "p1a", "p1b", "p2", "p3"], (await ReadAllAsync(store)).Select(p => p.PairId));
        Assert.Equal(["p1a", "p1b", "p2", "p3"], (await ReadAllAsync(store, from: T0.AddSeconds(1))).Select(p => p.PairId));
        Assert.Equal(["p0", "p1a", "p1b", "p2"], (await ReadAllAsync(store, to: T0.AddSeconds(2))).Select(p => p.PairId));
        Assert.Equal(["p2"], (await ReadAllAsync(store, from: T0.AddSeconds(2).AddTicks(-1), to: T0.AddSeconds(3))).Select(p => p.PairId));
        Assert.Empty(await ReadAllAsync(store, from: T0.AddSeconds(4)));

        // An instant in another offset means the same moment.
        var plusTwo = new DateTimeOffset(2026, 11, 20, 14, 0, 1, TimeSpan.FromHours(2));
        Assert.Equal(["p0"], (await ReadAllAsync(store, to: plusTwo)).Select(p => p.PairId));
    }

    [Fact]
    public async Task A_pair_id_already_stored_is_left_unchanged()
    {
        await using var store = await OpenAsync();
        await Pairs(store).WriteShadowPairAsync(Pair("p1", T0, agreement: 0.25));
        await Pairs(store).WriteShadowPairAsync(Pair("p1", T0, agreement: 1.0) with { Status = "ok", LiveModel = "claude-opus-4-6" });

        var stored = Assert.Single(await ReadAllAsync(store));
        Assert.Equal(0.25, stored.Agreement);
        Assert.Equal("claude-sonnet-4-5", stored.LiveModel);
    }

    [Fact]
    public async Task A_runner_stores_no_text_by_default_and_only_redacted_text_when_answers_are_stored()
    {
        await using var store = await OpenAsync();
        await RunOneAsync(store, new ShadowOptions { CandidateModel = "claude-haiku-4-5", DefaultRate = 1.0 }, "quiet");
        await RunOneAsync(
            store,
            new ShadowOptions
            {
                CandidateModel = "claude-haiku-4-5",
                DefaultRate = 1.0,
                StoreAnswers = true,
                Redact = text => text.Replace("ada@example.com", "[email]", StringComparison.Ordinal),
            },
            "stored");

        var read = (await ReadAllAsync(store)).ToDictionary(p => p.LiveRequestId);
        var quiet = read["quiet"];
        Assert.Equal(1.0, quiet.Agreement); // compared: only the text is left out
        // The costs RunOneAsync hands over, stored as given: 1000 in + 700 out on Sonnet 4.5 ($3 / $15 per MTok) is
        // 0.003 + 0.0105 = 0.0135; on Haiku 4.5 ($1 / $5) 0.001 + 0.0035 = 0.0045.
        Assert.Equal(0.0135m, quiet.LiveCostUsd);
        Assert.Equal(0.0045m, quiet.ShadowCostUsd);
        Assert.Null(quiet.Prompt);
        Assert.Null(quiet.LiveAnswer);
        Assert.Null(quiet.ShadowAnswer);

        var stored = read["stored"];
        Assert.Equal("Mail ada: [email]. Sentiment?", stored.Prompt);
        Assert.Equal("Positive ([email])", stored.LiveAnswer);
        Assert.Equal("positive ([email])", stored.ShadowAnswer);
    }

    private static async Task RunOneAsync(ILedgerStore store, ShadowOptions options, string requestId)
    {
        await using var runner = new ShadowRunner(options, PriceBook.Default, Pairs(store));
        var pairId = runner.TrySample(requestId, "sentiment");
        Assert.NotNull(pairId);
        Assert.True(runner.TryEnqueue(new ShadowJob
        {
            PairId = pairId,
            LiveRequestId = requestId,
            TaskLabel = "sentiment",
            LiveTimestamp = T0,
            ReadLive = () => new ShadowLiveAnswer("claude-sonnet-4-5", "Positive (ada@example.com)", new TokenUsage(1000, 700), 0.0135m, "Mail ada: ada@example.com. Sentiment?"),
            WorstCaseUsd = _ => 0.01m,
            RunShadowAsync = (_, _) => Task.FromResult(new ShadowAnswer("positive (ada@example.com)", new TokenUsage(1000, 700), 0.0045m)),
        }));
        await runner.WhenIdleAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }
}

/// <summary>The shadow pair contract on the SQLite ledger file.</summary>
public sealed class SqliteShadowPairStoreTests : ShadowPairStoreContractTests, IDisposable
{
    private readonly ModelMix.Tests.Ledger.TempDatabase _db = new();

    public void Dispose() => _db.Dispose();

    protected override async Task<ILedgerStore> OpenAsync()
    {
        var store = new SqliteLedgerStore(_db.FilePath);
        await store.MigrateAsync();
        return store;
    }
}
