using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Ledger;
using ModelMix.Pipeline;

namespace ModelMix.Server;

/// <summary>
/// <c>ModelMix:Intents</c>: the attempt intent journal's liveness and reconciliation (docs/ledger.md, "Crash consistency").
/// </summary>
internal sealed class IntentJournalOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Intents";

    /// <summary>
    /// Whether attempts are journaled before they are sent (default true). False restores the ledger's
    /// <c>FlushInterval</c> loss window on a kill (calls in flight and unflushed records are then unknown to the
    /// ledger) for the intent's per-request cost (docs/performance.md); reconciliation of other processes' intents still runs.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// How often this process records that it is alive (default 5 s). An intent transaction also refreshes the
    /// heartbeat when the last one is older than this (the timer is late), so an intent never commits with a heartbeat
    /// older than one interval plus that transaction.
    /// </summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long without a heartbeat before a process counts as dead and its pending intents become outcome-unknown
    /// records (default 30 s; at least three heartbeat intervals).
    /// </summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often every replica reconciles the intents of dead processes (default 10 s); also once at start.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Checks the section at start-up so a bad value fails fast, naming its key.</summary>
    internal sealed class Validator : IValidateOptions<IntentJournalOptions>
    {
        public ValidateOptionsResult Validate(string? name, IntentJournalOptions options)
        {
            if (options.HeartbeatInterval < TimeSpan.FromMilliseconds(100) || options.HeartbeatInterval > TimeSpan.FromMinutes(10))
            {
                return ValidateOptionsResult.Fail($"{SectionName}:HeartbeatInterval must be between 00:00:00.1 and 00:10:00, got {options.HeartbeatInterval}.");
            }

            if (options.StaleAfter < 3 * options.HeartbeatInterval)
            {
                return ValidateOptionsResult.Fail($"{SectionName}:StaleAfter must be at least three HeartbeatIntervals ({3 * options.HeartbeatInterval}), got {options.StaleAfter}.");
            }

            return options.SweepInterval < TimeSpan.FromMilliseconds(100) || options.SweepInterval > TimeSpan.FromDays(1)
                ? ValidateOptionsResult.Fail($"{SectionName}:SweepInterval must be between 00:00:00.1 and 1.00:00:00, got {options.SweepInterval}.")
                : ValidateOptionsResult.Success;
        }
    }
}

/// <summary>
/// The proxy's side of the attempt intent journal: before an attempt is sent upstream, <see cref="RegisterAsync"/>
/// makes its intent durable (group-committed with the other requests' intents); the attempt's own record deletes it
/// in the ledger batch that stores the record. The SDK calls the proxy makes itself (the meta-router's classification,
/// the cascade's verifier, shadow calls and their judge) are journaled the same way through the ledger stage's
/// <see cref="LedgerChatClientOptions.RegisterIntent"/> (<see cref="SdkCallHook"/>). Null journal (a ledger store
/// without one): no-op.
/// </summary>
/// <param name="journal">The journal; null when the ledger store keeps none.</param>
/// <param name="enabled">Whether attempts are journaled (<see cref="IntentJournalOptions.Enabled"/>).</param>
/// <param name="stopTimeout">
/// How long disposal waits for a commit under way (<c>ModelMix:Ledger:StopTimeout</c>, as the ledger's own stop); null: as long as it takes.
/// </param>
/// <param name="logger">Says what a stop gave up.</param>
internal sealed partial class ProxyIntents(AttemptJournal? journal, bool enabled = true, TimeSpan? stopTimeout = null, ILogger<ProxyIntents>? logger = null) : IAsyncDisposable
{
    /// <summary>The journal, when the ledger store keeps one.</summary>
    public AttemptJournal? Journal => journal;

    /// <summary>Journals <paramref name="intent"/> and waits until it is durable.</summary>
    public Task RegisterAsync(LedgerIntent intent, CancellationToken ct) =>
        journal is null || !enabled ? Task.CompletedTask : journal.RegisterAsync(intent, ct);

    /// <summary>
    /// The ledger stage's hook for the proxy's own SDK calls (null when attempts are not journaled): each call's
    /// intent, counted (by the ledger stage) against the reservation set by <see cref="UseReservationForSdkCalls"/> in
    /// the calling flow (<see cref="IntentReservation"/>).
    /// </summary>
    public Func<LedgerIntent, CancellationToken, Task>? SdkCallHook => Enabled ? RegisterAsync : null;

    /// <summary>
    /// Makes the SDK calls of the current async flow (and of what it awaits) count against <paramref name="reservationId"/>;
    /// call it at the top of an async method, whose end restores the caller's value.
    /// </summary>
    public static void UseReservationForSdkCalls(string? reservationId) => IntentReservation.Use(reservationId);

    /// <summary>Whether attempts are journaled (<see cref="IntentJournalOptions.Enabled"/>, and a ledger store that keeps a journal).</summary>
    public bool Enabled => enabled && journal is not null;

    /// <summary>
    /// Stops the journal: new intents are refused, and a commit under way is waited for at most the stop timeout; past
    /// it the stop goes on and says so (event 132). Those intents' requests were not sent upstream (a request is sent
    /// only once its intent is durable); one the database commits after all is settled as <c>outcome_unknown</c> by
    /// reconciliation, as after a crash.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (journal is null)
        {
            return;
        }

        var timeout = stopTimeout ?? Timeout.InfiniteTimeSpan;
        var abandoned = await journal.StopAsync(timeout);
        if (abandoned > 0 && logger is not null)
        {
            StopAbandoned(logger, abandoned, timeout);
        }
    }

    [LoggerMessage(132, LogLevel.Warning, "The attempt intent journal stopped without waiting for {Count} intent(s): the database did not take them within {Timeout} (ModelMix:Ledger:StopTimeout). Their requests were not sent upstream; an intent the database commits after all is settled as outcome_unknown by reconciliation.")]
    private static partial void StopAbandoned(ILogger logger, int count, TimeSpan timeout);

    /// <summary>Registers the journal, its options and the heartbeat-and-reconcile service.</summary>
    public static void AddServices(IServiceCollection services)
    {
        services.AddOptions<IntentJournalOptions>().BindConfiguration(IntentJournalOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<IntentJournalOptions>, IntentJournalOptions.Validator>();
        services.AddSingleton(provider => new ProxyIntents(
            provider.GetRequiredService<ILedger>().Store is IAttemptJournalStore store
                ? new AttemptJournal(store, AttemptJournal.NewInstanceId(), provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<IOptions<IntentJournalOptions>>().Value.HeartbeatInterval)
                : null,
            provider.GetRequiredService<IOptions<IntentJournalOptions>>().Value.Enabled,
            ProxyApplication.LedgerStopTimeout(provider.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()),
            provider.GetRequiredService<ILogger<ProxyIntents>>()));
        services.AddSingleton<IntentSweepService>();
        services.AddHostedService(provider => provider.GetRequiredService<IntentSweepService>());
    }
}

/// <summary>
/// Keeps this process's heartbeat fresh and, at start and every <see cref="IntentJournalOptions.SweepInterval"/>,
/// turns the intents of dead processes into outcome-unknown ledger records (every replica sweeps; it is idempotent).
/// A failed tick is logged and tried again at the next one.
/// </summary>
internal sealed partial class IntentSweepService(ProxyIntents intents, IOptions<IntentJournalOptions> options, TimeProvider time, AttemptRecorder recorder, ILogger<IntentSweepService> logger) : BackgroundService
{
    /// <summary>Reconciles once (what each sweep does); exposed for tests. Null when the sweep failed (logged) or there is no journal.</summary>
    public async Task<int?> SweepOnceAsync(CancellationToken cancellationToken)
    {
        if (intents.Journal is not { } journal)
        {
            return null;
        }

        try
        {
            // No token into the store (a cancelled Npgsql command cancels synchronously and can hang the stop,
            // npgsql/npgsql#5070): a stop stops waiting, the call runs out in the background.
            var moved = await journal.Store.ReconcileIntentsAsync(journal.InstanceId, time.GetUtcNow(), options.Value.StaleAfter, recorder.Price, CancellationToken.None).WaitAsync(cancellationToken);
            if (moved > 0)
            {
                Reconciled(logger, moved);
            }

            return moved;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            Failed(logger, "reconcile", exception.GetType().Name, exception.Message);
            return null;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (intents.Journal is not { } journal)
        {
            return;
        }

        var settings = options.Value;
        await BeatAsync(journal, stoppingToken);
        await SweepOnceAsync(stoppingToken);
        var lastSweep = time.GetTimestamp();
        var tick = settings.HeartbeatInterval < settings.SweepInterval ? settings.HeartbeatInterval : settings.SweepInterval;
        using var timer = new PeriodicTimer(tick, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await BeatAsync(journal, stoppingToken);
                if (time.GetElapsedTime(lastSweep) >= settings.SweepInterval)
                {
                    await SweepOnceAsync(stoppingToken);
                    lastSweep = time.GetTimestamp();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The proxy is stopping.
        }
    }

    private async Task BeatAsync(AttemptJournal journal, CancellationToken cancellationToken)
    {
        try
        {
            await journal.HeartbeatAsync(CancellationToken.None).WaitAsync(cancellationToken); // no token into the store, as above
        }
        catch (Exception exception) when (exception is not OutOfMemoryException and not OperationCanceledException)
        {
            Failed(logger, "heartbeat", exception.GetType().Name, exception.Message);
        }
    }

    [LoggerMessage(130, LogLevel.Warning, "Intent sweep: {Count} attempt(s) of a process that died before recording them became outcome_unknown ledger records, charged at their worst case.")]
    private static partial void Reconciled(ILogger logger, int count);

    [LoggerMessage(131, LogLevel.Warning, "Intent journal {Operation} failed ({Error}: {Message}); it is tried again at the next tick.")]
    private static partial void Failed(ILogger logger, string operation, string error, string message);
}
