using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Pricing;

namespace ModelMix.Server;

/// <summary>
/// Reserves a request's worst-case cost (<see cref="BudgetEstimator"/>) against the caller's key budgets (daily,
/// monthly, total) and its session budget (<c>x-modelmix-session</c>, <see cref="ProxyOptions.SessionBudgetUsd"/>)
/// once routing has chosen the model and before anything is sent; over budget, answers 429
/// <c>rate_limit_error</c> naming the budget and when it resets (with <c>retry-after</c> for day and month budgets).
/// </summary>
internal sealed class BudgetGate(IBudgetStore store, PriceBook prices, IOptions<ProxyOptions> options, TimeProvider time, ILogger<BudgetGate> logger, ILedger ledger, BudgetLeaseService? leases = null, BudgetOverruns? overruns = null)
{
    private readonly ProxyOptions _options = options.Value;

    // Holds are settled in the ledger's batches when the ledger and the budgets share the built-in store (ProxyApplication:
    // one ModelMix:Db), so budget and ledger agree by construction (docs/ledger.md, "Crash consistency").
    private readonly ISettlingLedger? _settling = store is SqliteBudgetStore or Postgres.PostgresBudgetStore && ledger is ISettlingLedger { CanSettle: true } settling ? settling : null;

    /// <summary>The hold to settle when the request is over, or null after a 429 (or 400) was written.</summary>
    public ValueTask<BudgetHold?> ReserveAsync(HttpContext context, AuthCaller caller, string model, byte[] body, long maxTokens, string? sessionId, string requestId, IClientDialect dialect) =>
        Limits(caller, sessionId) is { } limits
            ? ReserveWithinAsync(context, caller.KeyId, model, limits, WorstCase(model, body, maxTokens), requestId, dialect, ttl: null, maxTokens)
            : ValueTask.FromResult<BudgetHold?>(new BudgetHold(caller.KeyId)); // no budget applies: nothing to price or hold

    private static Func<PriceBook, DateTimeOffset, decimal> WorstCase(string model, byte[] body, long maxTokens) =>
        (book, at) => BudgetEstimator.WorstCaseUsd(book, model, body, maxTokens, at);

    /// <summary>
    /// Like the other overload, for a request whose worst case is not one call to one model (a confidence cascade:
    /// every tier it may reach plus its verifier calls). <paramref name="worstCase"/> runs only when a budget applies;
    /// <paramref name="model"/> names what it prices in the 400 written when it has no price in force;
    /// <paramref name="ttl"/> overrides <see cref="ProxyOptions.ReservationTtl"/> (a batch job holds for its 24 h window).
    /// </summary>
    public ValueTask<BudgetHold?> ReserveAsync(HttpContext context, AuthCaller caller, string model, Func<PriceBook, DateTimeOffset, decimal> worstCase, string? sessionId, string requestId, IClientDialect dialect, TimeSpan? ttl = null) =>
        Limits(caller, sessionId) is { } limits
            ? ReserveWithinAsync(context, caller.KeyId, model, limits, worstCase, requestId, dialect, ttl, maxTokens: null)
            : ValueTask.FromResult<BudgetHold?>(new BudgetHold(caller.KeyId));

    /// <summary>Prices the worst case and reserves it within <paramref name="limits"/>; null after a 429 (or 400) was written.</summary>
    private async ValueTask<BudgetHold?> ReserveWithinAsync(HttpContext context, string? keyId, string model, List<BudgetLimit> limits, Func<PriceBook, DateTimeOffset, decimal> worstCase, string requestId, IClientDialect dialect, TimeSpan? ttl, long? maxTokens)
    {
        var now = time.GetUtcNow();
        decimal worst;
        try
        {
            worst = worstCase(prices, now);
        }
        catch (PricingException exception)
        {
            await dialect.WriteErrorAsync(context, 400, $"model: '{model}' has no price in force, so its cost cannot be held against a budget: {exception.Message}", "invalid_request_error", requestId);
            return null;
        }

        // After an answer dearer than its hold, the key's requests wait for the requests in flight to settle, and after an
        // upstream reported more output than max_tokens every hold is scaled up (BudgetOverruns; docs "Overshoot"). Batch
        // jobs (ttl) hold for a day and are not tracked: a drain must not wait for them.
        var ticket = ttl is null && overruns is not null ? await overruns.AdmitAsync(limits[0].Scope, context.RequestAborted) : null;
        try
        {
            var amount = ticket is null ? worst : overruns!.Scale(worst);
            if (await HoldAsync(context, keyId, limits, amount, requestId, dialect, ttl, now) is { } hold)
            {
                return ticket is null ? hold : hold.Watch(ticket, worst, maxTokens);
            }

            ticket?.Complete();
            return null;
        }
        catch
        {
            ticket?.Complete();
            throw;
        }
    }

    private async ValueTask<BudgetHold?> HoldAsync(HttpContext context, string? keyId, List<BudgetLimit> limits, decimal amount, string requestId, IClientDialect dialect, TimeSpan? ttl, DateTimeOffset now)
    {
        if (ttl is null && leases?.Leases is { } leased && limits.TrueForAll(limit => limit.Scope.StartsWith("key:", StringComparison.Ordinal))
            && await leased.HoldAsync(limits, amount, now, context.RequestAborted) is { } lease)
        {
            // Held in memory against this process's slice of the key's budget (issue 29): no durable write for the hold.
            // Session budgets and batch jobs reserve on their own (below), as does a request the slice cannot cover.
            return new BudgetHold(keyId, lease, requestId, limits, now);
        }

        var result = await store.ReserveAsync(requestId, limits, amount, now, ttl ?? _options.ReservationTtl, context.RequestAborted);
        if (result.Reservation is { } reservation)
        {
            return new BudgetHold(keyId, store, reservation, logger, _settling);
        }

        // Not logged here: the 429 is a refusal like any other (ProxyRefusals), logged at most once per 10 s with a count
        // of those folded into the line. A line per refused request let one client over its budget flood the log.
        var refusal = result.Refusal!;
        if (refusal.ResetsAt is { } reset)
        {
            var seconds = Math.Max(1, (long)Math.Ceiling((reset - now).TotalSeconds));
            context.Response.Headers["retry-after"] = seconds.ToString(CultureInfo.InvariantCulture);
        }

        await dialect.WriteErrorAsync(context, 429, refusal.Message, "rate_limit_error", requestId);
        return null;
    }

    /// <summary>The budgets that apply to this caller and session; null when none does (the common unbudgeted request allocates nothing here).</summary>
    private List<BudgetLimit>? Limits(AuthCaller caller, string? sessionId)
    {
        List<BudgetLimit>? limits = null;
        if (caller.Key is { } key)
        {
            foreach (var cap in key.Budgets)
            {
                (limits ??= []).Add(new BudgetLimit(key.BudgetScope, $"key '{key.Name}'", cap.Window, cap.AmountUsd));
            }
        }

        if (sessionId is not null && _options.SessionBudgetUsd is { } sessionCap)
        {
            // Sessions are named by clients, so each key has its own session namespace.
            (limits ??= []).Add(new BudgetLimit($"session:{caller.KeyId ?? "-"}:{sessionId}", $"session '{sessionId}'", BudgetWindow.Total, sessionCap));
        }

        return limits;
    }
}
