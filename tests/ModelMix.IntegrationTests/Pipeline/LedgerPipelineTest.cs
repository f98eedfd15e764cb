using Anthropic;
using Anthropic.Core;
using FakeAnthropic;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.IntegrationTests.Pipeline;

/// <summary>
/// Real parts for every test: the FakeAnthropic server over HTTP, the official SDK client and its <c>AsIChatClient</c>,
/// and a SQLite ledger in a temp file behind an <see cref="AttemptRecorder"/> with the default price book.
/// </summary>
public abstract class LedgerPipelineTest : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();

    protected FakeAnthropicServer Server { get; private set; } = null!;

    protected AnthropicClient Sdk { get; private set; } = null!;

    protected BufferedLedger Ledger { get; private set; } = null!;

    protected AttemptRecorder Recorder { get; private set; } = null!;

    protected string DbPath => Path.Combine(_dir.Path, "ledger.db");

    public async Task InitializeAsync()
    {
        Server = await FakeAnthropicServer.StartAsync();
        Sdk = new AnthropicClient(new ClientOptions
        {
            ApiKey = "test-key",
            BaseUrl = Server.BaseUrl.ToString(),
            MaxRetries = 0,
            ResponseValidation = true,
        });
        Ledger = await BufferedLedger.OpenSqliteAsync(DbPath);
        Recorder = new AttemptRecorder(PriceBook.Default, Ledger);
    }

    public async Task DisposeAsync()
    {
        await Ledger.DisposeAsync();
        Sdk.Dispose();
        await Server.DisposeAsync();
        _dir.Dispose();
    }

    /// <summary>Commits what was recorded and reads every record back from the SQLite file, earliest first.</summary>
    protected async Task<List<LedgerRecord>> CommittedRecordsAsync()
    {
        await Ledger.FlushAsync();
        var records = new List<LedgerRecord>();
        await foreach (var record in Ledger.ReadAsync(LedgerQuery.All))
        {
            records.Add(record);
        }

        return records;
    }
}
