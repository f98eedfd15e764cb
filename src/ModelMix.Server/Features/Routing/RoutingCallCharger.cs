using Microsoft.Extensions.AI;
using ModelMix.Ledger;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// Wraps the meta-router's classifier client so that each classification is charged to the budget hold of the
/// request being routed. The ledger stage below records and prices the call; this charges the same price. The hold
/// is the one <see cref="DecideAsync"/> was given, carried to the classifier call by an <see cref="AsyncLocal{T}"/>
/// because the routing policy knows nothing of budgets. A failed call costs nothing, so nothing is charged; the
/// meta-router never streams.
/// </summary>
internal sealed class RoutingCallCharger(IChatClient inner, AttemptRecorder recorder, TimeProvider time) : DelegatingChatClient(inner)
{
    private static readonly AsyncLocal<BudgetHold?> CurrentHold = new();

    /// <summary>Decides with <paramref name="policy"/>, charging any routing call it makes to <paramref name="hold"/>.</summary>
    public static async ValueTask<RoutingDecision> DecideAsync(BudgetHold hold, IRoutingPolicy policy, RoutingRequest features, CancellationToken cancellationToken)
    {
        CurrentHold.Value = hold;
        ProxyIntents.UseReservationForSdkCalls(hold.Reservation?.Id); // the classification's intent counts against the hold
        try
        {
            return await ProxyRouter.DecideAsync(policy, features, cancellationToken);
        }
        finally
        {
            CurrentHold.Value = null;
        }
    }

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var hold = CurrentHold.Value;
        var startedAt = time.GetUtcNow();
        var response = await base.GetResponseAsync(messages, options, cancellationToken);
        hold?.ChargeSdkCall(recorder, options?.ModelId ?? response.ModelId ?? "unknown", response, startedAt);
        return response;
    }
}
