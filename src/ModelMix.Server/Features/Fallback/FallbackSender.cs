using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using ModelMix.Routing;

namespace ModelMix.Server;

/// <summary>
/// The cooldown/fallback step: a model another request (on any replica sharing the store) just saw overloaded starts
/// on the chain's next model (<see cref="ProxyCooldowns"/>); a model that still fails after its retries
/// (<see cref="UpstreamSender"/>), or whose context window the prompt overflows, moves the call to the next model of
/// the fallback chain (<see cref="ProxyFallback"/>), body re-pointed, attempts numbered on across models.
/// </summary>
internal sealed class FallbackSender(ProxyCooldowns cooldowns, UpstreamSender sender)
{
    /// <summary>
    /// Sends <paramref name="call"/> down the chain. Returns the call as last routed with its result to relay, or a null
    /// result when the request is over: its failure was written (502/504), or its client left (every attempt recorded).
    /// </summary>
    /// <param name="context">The request (its routed-model header follows the chain).</param>
    /// <param name="call">The call as routed; its <see cref="CallContext.Watch"/> is required.</param>
    /// <param name="dialect">The client's dialect, for a failure that outlived the chain.</param>
    /// <param name="features">What the request asks of a model once routed (a fallback model must fit it).</param>
    public async Task<(CallContext Call, UpstreamResult? Result)> SendAsync(HttpContext context, CallContext call, IClientDialect dialect, RoutingRequest features)
    {
        var aborted = context.RequestAborted;
        var watch = call.Watch!;

        // A model another request (on any replica sharing the store) just saw overloaded starts on the chain's next model.
        if (await cooldowns.InsteadOfAsync(call.Route.Model, call.Budget.Reservation is not null, features) is { } cooler)
        {
            call = call with
            {
                Route = new Route(cooler, call.Route.Policy, $"fallback to {cooler}: {call.Route.Model} is cooling down after a 429/529", call.Route.Model),
                Body = RequestBodyRewriter.ReplaceModel(call.Body, cooler),
            };
            context.Response.Headers["x-modelmix-routed-model"] = cooler;
        }

        // Retries on one model (UpstreamSender), then the fallback chain: a model that still fails moves the request to
        // the next model, body re-pointed, attempts numbered on across models.
        UpstreamResult? result;
        var attempts = new StrongBox<int>(0); // attempts are numbered on across the fallback chain's models
        HashSet<string>? tried = null; // the models tried so far, once one has failed
        while (true)
        {
            Exception? failure = null;
            try
            {
                result = await sender.SendAsync(call, attempts);
            }
            catch (Exception exception) when (exception is HttpRequestException or UpstreamTimeoutException)
            {
                failure = exception;
                result = null;
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                return (call, null); // the client left and every attempt made is recorded (a stopped one with its estimate)
            }

            var overflow = result is { Status: 400 } && IsContextOverflow(result.Body);
            var failed = failure is not null || result is { FailedRetryably: true };
            if ((failed || overflow) && watch.ClientGone)
            {
                // Stryker disable once Statement : equivalent (docs/testing.md, proxy-retry): UpstreamResult.Dispose releases only an open stream, and a failed or overflowing result never holds one (FailedRetryably requires none; an overflow is a buffered 400)
                result?.Dispose(); // recorded; nobody is left to answer, so no fallback is paid for
                return (call, null);
            }
            if (failed || overflow)
            {
                (tried ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase)).Add(call.Route.Model);
            }

            if ((failed || overflow)
                && await cooldowns.NextAsync(call.Route.Model, overflow, tried!, call.Budget.Reservation is not null, features) is { } next)
            {
                var what = overflow ? "the prompt is too long for its context window" : failure is not null ? "it could not be reached" : $"HTTP {result!.Status}";
                // Stryker disable once Statement : equivalent (docs/testing.md, proxy-retry): UpstreamResult.Dispose releases only an open stream, and a failed or overflowing result never holds one (FailedRetryably requires none; an overflow is a buffered 400)
                result?.Dispose();
                call = call with
                {
                    Route = new Route(next, call.Route.Policy, $"fallback to {next}: {what} on {call.Route.Model}", call.Route.Model),
                    Body = RequestBodyRewriter.ReplaceModel(call.Body, next),
                };
                context.Response.Headers["x-modelmix-routed-model"] = next;
                continue;
            }

            if (failure is not null)
            {
                await sender.WriteFailureAsync(context, failure, dialect, call.RequestId);
                return (call, null);
            }

            return (call, result);
        }
    }

    /// <summary>Whether a 400 says the prompt does not fit the model's context window (Anthropic: "prompt is too long").</summary>
    internal static bool IsContextOverflow(byte[] body) =>
        System.Text.Encoding.UTF8.GetString(body).Contains("prompt is too long", StringComparison.OrdinalIgnoreCase);
}
