using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Ledger;

namespace ModelMix.Server;

/// <summary>
/// The relay step: writes an upstream answer to the client in its dialect, after the decision's headers
/// (<see cref="AnswerHeaders"/>): a buffered answer as it came (or translated), a stream event by event, its attempt
/// recorded through <see cref="AttemptLedger"/> when it ends. The pipeline and the cascade relay through it.
/// </summary>
/// <remarks>
/// Its log category stays <c>ModelMix.Server.MessagesForwarder</c> (the one operators filter on before the split).
/// </remarks>
internal sealed class AnswerRelay(IOptions<ProxyOptions> options, AttemptLedger ledger, TimeProvider time, ILogger<MessagesForwarder> logger)
{
    private readonly ProxyOptions _options = options.Value;
    private readonly AttemptTimeouts _timeouts = new(); // each stream's idle clock, re-armed on every read (pooled sources)

    /// <summary>Writes the call's answer: a stream relayed live (and recorded when it ends), else buffered; disposes <paramref name="result"/>.</summary>
    public async Task RelayAsync(HttpContext context, CallContext call, UpstreamResult result, IClientDialect dialect)
    {
        using (result)
        {
            AnswerHeaders.Apply(context.Response, call.Route, result); // the decision and (buffered) the cost (AnswerHeaders.cs)
            if (result.OpenStream is { } stream)
            {
                await RelayStreamAsync(context, call, result, stream, dialect.CreateStreamTranslator());
            }
            else
            {
                await dialect.WriteBufferedAsync(context, result, call.RequestId);
            }
        }
    }

    /// <summary>Writes a buffered upstream answer (success or error) to the client as it came.</summary>
    public static async Task WriteBufferedAsync(HttpContext context, UpstreamResult result)
    {
        var response = context.Response;
        response.StatusCode = result.Status;
        RelayHeaders(response, result);

        response.ContentLength = result.Body.Length;
        try
        {
            await response.Body.WriteAsync(result.Body, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left; the attempt is already in the ledger.
        }
    }

    /// <summary>Copies the upstream headers ModelMix relays onto the client's response (by index: no boxed enumerator per request).</summary>
    public static void RelayHeaders(HttpResponse response, UpstreamResult result)
    {
        var headers = result.Headers;
        for (var i = 0; i < headers.Count; i++)
        {
            response.Headers[headers[i].Key] = headers[i].Value;
        }
    }

    /// <summary>Sets a stream's status and relayed headers, and turns response buffering off so events go out as they come.</summary>
    public static HttpResponse StartStreamResponse(HttpContext context, UpstreamResult result)
    {
        var response = context.Response;
        response.StatusCode = result.Status;
        RelayHeaders(response, result);

        response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        return response;
    }

    /// <summary>
    /// Relays a stream event by event and records its attempt when it ends. A client that leaves does not end the
    /// upstream stream: it is read on, unrelayed, to its final usage (bounded by <see cref="ProxyOptions.MaxOrphanedStreamBytes"/>
    /// and <see cref="ProxyOptions.UpstreamTimeout"/> from the moment the client left; stopped at once when the proxy's
    /// orphan limit is reached, ClientHangups.cs). An upstream that sends nothing for <see cref="ProxyOptions.StreamIdleTimeout"/>
    /// is stalled: the client's stream ends with an error event. A stream that ends without its final usage is recorded
    /// with an estimate from what was relayed (<see cref="SseUsageTap.UsageOrEstimate"/>).
    /// </summary>
    private async Task RelayStreamAsync(HttpContext context, CallContext call, UpstreamResult result, HttpResponseMessage upstream, IStreamTranslator? translator)
    {
        var response = StartStreamResponse(context, result);
        var watch = call.Watch!;
        var client = context.RequestAborted;
        var tap = new SseUsageTap(_options.MaxAnswerBytes);
        string? cutReason = null; // the upstream's fault: the client gets an error event
        var tooLarge = false;
        string? stopReason = null; // the proxy stopped an orphaned stream
        var stalled = false;
        var clientGone = false;
        long goneAt = 0, drained = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(16384);
        var translated = translator is null ? null : new ArrayBufferWriter<byte>(16384);
        using var idle = _timeouts.Start(_options.StreamIdleTimeout, watch.Token); // re-armed on every read
        try
        {
            await using var source = await upstream.Content.ReadAsStreamAsync(idle.Token);
            try
            {
                await response.StartAsync(client);
            }
            catch (Exception exception) when (exception is IOException or OperationCanceledException)
            {
                clientGone = true;
                goneAt = time.GetTimestamp();
            }

            int read;
            while ((read = await source.ReadAsync(buffer, idle.Token)) > 0)
            {
                idle.Restart(_options.StreamIdleTimeout);
                tap.Observe(buffer.AsSpan(0, read));
                if (tap.Overflowed)
                {
                    tooLarge = true; // one event past MaxAnswerBytes: a misbehaving upstream, cut before it takes the memory
                    cutReason = $"an upstream event was larger than ModelMix:MaxAnswerBytes ({_options.MaxAnswerBytes} bytes)";
                    break;
                }

                call.ShadowCapture?.Append(buffer.AsSpan(0, read));
                if (!clientGone && client.IsCancellationRequested)
                {
                    clientGone = true;
                    goneAt = time.GetTimestamp();
                }

                if (clientGone)
                {
                    // Read on, unrelayed, for the final usage: the API bills this stream whether or not anyone reads it.
                    drained += read;
                    if (drained > _options.MaxOrphanedStreamBytes || time.GetElapsedTime(goneAt) > _options.UpstreamTimeout)
                    {
                        stopReason = drained > _options.MaxOrphanedStreamBytes
                            ? $"more than {_options.MaxOrphanedStreamBytes} bytes after the client left (ModelMix:MaxOrphanedStreamBytes)"
                            : $"longer than {_options.UpstreamTimeout} after the client left (ModelMix:UpstreamTimeout)";
                        watch.Stop();
                        break;
                    }

                    continue;
                }

                try
                {
                    if (translator is null)
                    {
                        await response.Body.WriteAsync(buffer.AsMemory(0, read), client);
                    }
                    else
                    {
                        translated!.ResetWrittenCount();
                        translator.Translate(buffer.AsSpan(0, read), translated);
                        if (translated.WrittenCount == 0)
                        {
                            continue;
                        }

                        await response.Body.WriteAsync(translated.WrittenMemory, client);
                    }

                    await response.Body.FlushAsync(client);
                }
                catch (Exception exception) when (exception is IOException or OperationCanceledException)
                {
                    clientGone = true; // a write to a client that left: the stream is read on
                    goneAt = time.GetTimestamp();
                }
            }

            if (stopReason is null && cutReason is null && !tap.Completed && tap.ErrorType is null)
            {
                cutReason = "the upstream closed the stream early";
            }
        }
        catch (OperationCanceledException) when (watch.Stopped)
        {
            stopReason ??= "ModelMix:MaxOrphanedCalls upstream calls were already running for clients that left";
        }
        catch (OperationCanceledException) when (!watch.Token.IsCancellationRequested)
        {
            stalled = true; // nothing from the upstream for StreamIdleTimeout
            cutReason = $"the upstream sent nothing for {_options.StreamIdleTimeout}";
        }
        catch (Exception exception) when (exception is IOException or HttpRequestException)
        {
            cutReason = "the upstream connection broke: " + exception.Message;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        var model = tap.Model ?? call.Route.Model;
        if (cutReason is not null)
        {
            if (stalled)
            {
                Log.StreamIdle(logger, call.RequestId, model, _options.StreamIdleTimeout);
            }
            else
            {
                Log.StreamCut(logger, call.RequestId, model, cutReason);
            }

            if (!clientGone)
            {
                try
                {
                    var message = "The upstream stream ended unexpectedly (" + cutReason + "); the answer is incomplete.";
                    await response.Body.WriteAsync(translator?.ErrorEvent("api_error", message) ?? AnthropicError.StreamEvent("api_error", message), client);
                    await response.Body.FlushAsync(client);
                }
                catch (Exception exception) when (exception is IOException or OperationCanceledException)
                {
                    clientGone = true;
                }
            }
        }

        if (stopReason is not null)
        {
            Log.OrphanStopped(logger, call.RequestId, model, stopReason);
        }
        else if (clientGone)
        {
            Log.ClientGone(logger, call.RequestId, model);
        }

        var usage = tap.UsageOrEstimate(out var estimated);
        var status = tap.ErrorType is not null || cutReason is not null ? LedgerStatus.Error : stopReason is not null ? LedgerStatus.Failed : LedgerStatus.Ok;
        var errorType = tap.ErrorType ?? (stalled ? "stream_idle_timeout" : tooLarge ? "answer_too_large" : cutReason is not null ? "stream_cut" : stopReason is not null ? "client_disconnected" : null);
        var record = await ledger.Recorder.RecordAsync(ledger.NewRecord(call, result) with
        {
            UpstreamRequestId = UpstreamSender.HeaderValue(result.Headers, "request-id"),
            ResponseModel = tap.Model,
            Usage = usage,
            UsageEstimated = estimated,
            ClientDisconnected = clientGone || watch.ClientGone,
            ThinkingBlocksDropped = tap.ThinkingBlocksDropped,
            Streaming = true,
            Status = status,
            ErrorType = errorType,
        }, CancellationToken.None);
        await ledger.ObserveAnsweredAsync(call, record, model);

        if (!clientGone && !watch.ClientGone)
        {
            await AnswerHeaders.WriteStreamTrailerAsync(response, call.RequestId, record, client); // ": modelmix cost_usd=…" after the last event
        }
    }
}
