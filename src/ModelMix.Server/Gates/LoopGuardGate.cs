using Microsoft.AspNetCore.Http;
using ModelMix.Ledger;

namespace ModelMix.Server;

/// <summary>
/// The guard step (<see cref="ProxyLoopGuard"/>, over the library's loop-guard core): counts one step of the request's
/// session; when a limit trips, records the stop in the ledger (no cost) and writes a 400 in the client's dialect,
/// before anything is reserved or sent.
/// </summary>
internal sealed class LoopGuardGate(ProxyLoopGuard guard, AttemptRecorder recorder, TimeProvider time)
{
    /// <summary>Counts one step of the request's session; true when it was stopped (a 400 was written and recorded).</summary>
    public async ValueTask<bool> TripsAsync(HttpContext context, string requestId, MessagesRequest request, Route route, IClientDialect dialect, AuthCaller caller, string? sessionId, string? taskLabel, byte[] body)
    {
        if (guard.Check(caller.KeyId, sessionId, body) is not { } tripped)
        {
            return false;
        }

        await recorder.RecordAsync(new LedgerRecord
        {
            Id = LedgerIds.New(time),
            Timestamp = time.GetUtcNow(),
            RequestId = requestId,
            SessionId = sessionId,
            TaskLabel = taskLabel,
            KeyId = caller.KeyId,
            RequestedModel = request.Model,
            RoutedModel = route.Model,
            Policy = route.Policy,
            Reason = tripped,
            Status = LedgerStatus.Error,
            ErrorType = ProxyLoopGuard.ErrorType,
        }, CancellationToken.None);
        await dialect.WriteErrorAsync(context, 400, tripped, "invalid_request_error", requestId);
        return true;
    }

    /// <summary>Adds a finished request's charged cost to its session's spend window.</summary>
    public void AddSpend(string? keyId, string? sessionId, decimal charged) => guard.AddSpend(keyId, sessionId, charged);
}
