using ModelMix.Catalog;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelMix.Budgets;
using ModelMix.Hosting;
using ModelMix.Ledger;
using ModelMix.Pipeline;
using ModelMix.Pricing;
using ModelMix.Shadow;
using ModelMix.Telemetry;

namespace ModelMix.Server;

/// <summary>
/// Shadow mode at the proxy (<c>ModelMix:Shadow:*</c>, docs/shadow.md): a sampled share of <c>/v1/messages</c>
/// requests (per <c>x-modelmix-task</c> label, by request id hash) is sent again, after the live answer has been
/// written, to the candidate model — non-streaming, through the official SDK with the client's body (only
/// <c>model</c> replaced, <c>stream</c> dropped) — on the <see cref="ShadowRunner"/>'s background workers. The
/// caller's answer is never delayed, changed or failed by it.
/// </summary>
internal sealed class ProxyShadow : IAsyncDisposable
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix:Shadow";

    private readonly ShadowRunner _runner;
    private readonly AnthropicClient _sdk;
    private readonly IChatClient _judge;
    private readonly AttemptRecorder _recorder;
    private readonly TimeProvider _time;
    private readonly string _candidate;
    private readonly EffortLevel _candidateEffort;
    private readonly ModelFit _fit;
    private readonly ProxyIntents _intents;

    private ProxyShadow(ShadowRunner runner, AnthropicClient sdk, IChatClient judge, AttemptRecorder recorder, TimeProvider time, ProxyIntents intents)
    {
        _intents = intents;
        _runner = runner;
        _sdk = sdk;
        _judge = judge;
        _recorder = recorder;
        _time = time;
        // Resolved by the runner at start: a tier is its model; a candidate may carry an effort (claude-opus-5-5@low),
        // and the same model at another effort is then compared.
        _candidate = runner.CandidateModelId;
        _candidateEffort = runner.CandidateEffort;
        _fit = new ModelFit(recorder.Prices);
    }

    /// <summary>The runner (statistics, idle wait).</summary>
    public ShadowRunner Runner => _runner;

    /// <summary>
    /// Registers shadow mode when <c>ModelMix:Shadow</c> is configured: <see cref="ShadowOptions"/> bound as the library
    /// binds them and checked at start, the candidate and judge models against the price book (a bad setting fails the
    /// start, naming the key).
    /// </summary>
    public static void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        if (!configuration.GetSection(SectionName).Exists())
        {
            return;
        }

        ModelMixSections.Add<ShadowOptions>(services, configuration, (options, provider) => options.Validate(provider.GetRequiredService<PriceBook>(), SectionName + ":"));
        services.AddSingleton(provider => Create(provider, provider.GetRequiredService<IOptions<ShadowOptions>>().Value));
    }

    private static ProxyShadow Create(IServiceProvider provider, ShadowOptions options)
    {
        var proxy = provider.GetRequiredService<IOptions<ProxyOptions>>().Value;
        var recorder = provider.GetRequiredService<AttemptRecorder>();
        var time = provider.GetRequiredService<TimeProvider>();
        options.TimeProvider = time;
        if (options.DailyBudgetUsd is not null || options.TotalBudgetUsd is not null)
        {
            options.BudgetStore = provider.GetRequiredService<IBudgetStore>();
        }

        // A pair's shadow-budget hold settles in the ledger's transaction, to what the ledger holds for the pair.
        options.SettlingLedger = recorder.Ledger as ISettlingLedger;
        var intents = provider.GetRequiredService<ProxyIntents>();
        var pairs = recorder.Ledger.Store as IShadowPairStore ?? throw new InvalidOperationException(
            $"{SectionName}: the ledger store ({recorder.Ledger.Store.GetType().Name}) cannot store shadow pairs.");
        var sdk = new AnthropicClient(new ClientOptions
        {
            BaseUrl = proxy.Upstream.ToString().TrimEnd('/'),
            ApiKey = proxy.UpstreamApiKey is { Length: > 0 } key ? key : "no-upstream-key-configured",
            MaxRetries = 0,
            Timeout = proxy.UpstreamTimeout,
            Handlers = [new UpstreamRequestIdHandler()], // the judge's records carry the upstream's request-id
        });
        ShadowOptions.TryResolveModel(recorder.Prices, options.JudgeModel ?? options.CandidateModel!, out var judgeModel, out _);
        var judge = new ChatClientBuilder(sdk.AsIChatClient(judgeModel))
            .UseModelMixLedger(recorder, ledger =>
            {
                ledger.DefaultPolicy = ShadowRunner.JudgePolicy;
                ledger.RegisterIntent = intents.SdkCallHook; // each judge call journaled before it is sent
            })
            .Build(provider);
        var runner = new ShadowRunner(options, recorder.Prices, pairs, judge, provider.GetService<ModelMixMetrics>(), provider.GetService<ILogger<ShadowRunner>>());
        return new ProxyShadow(runner, sdk, judge, recorder, time, intents);
    }

    /// <summary>A new pair id when the request is sampled, else null.</summary>
    public string? Sample(string requestId, string? taskLabel) => _runner.TrySample(requestId, taskLabel);

    /// <summary>The runner's counts so far (sampled, compared, skipped, …).</summary>
    public ModelMix.Shadow.ShadowStatistics Statistics => _runner.Statistics;

    /// <summary>A buffer for a sampled streaming request's events (null when the request is not sampled or not streamed).</summary>
    public static StreamCapture? CaptureFor(string? pairId, bool streaming) => pairId is not null && streaming ? new StreamCapture() : null;

    /// <summary>Hands a relayed answer of a sampled request to the runner (a queue write; everything else runs in the background).</summary>
    public void Submit(CallContext call, UpstreamResult result)
    {
        if (call.ShadowPairId is not { } pairId)
        {
            return;
        }

        var streamed = call.ShadowCapture is not null;
        var bytes = streamed ? call.ShadowCapture!.ToArray() : result.Body;
        var status = result.Status;
        var startedAt = result.StartedAt;
        _runner.TryEnqueue(new ShadowJob
        {
            PairId = pairId,
            LiveRequestId = call.RequestId,
            TaskLabel = call.TaskLabel,
            LiveTimestamp = startedAt,
            ReadLive = () => ReadLive(call, bytes, streamed, status, startedAt),
            WorstCaseUsd = at => BudgetEstimator.WorstCaseUsd(_recorder.Prices, _candidate, call.Body, call.Request.MaxTokens, at),
            RunShadowAsync = (_, ct) => CallCandidateAsync(call, pairId, ct),
        });
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _runner.DisposeAsync();
        _judge.Dispose();
        _sdk.Dispose();
    }

    private ShadowLiveAnswer ReadLive(CallContext call, byte[] bytes, bool streamed, int status, DateTimeOffset startedAt)
    {
        var prompt = call.Request.Features.Text.ToString();
        if (status != 200)
        {
            return new ShadowLiveAnswer(call.Route.Model, string.Empty, default, null, prompt, "live_failed");
        }

        ProxyCascadeAnswer answer;
        TokenUsage usage;
        string? model;
        string? skip = null;
        if (streamed)
        {
            var tap = new SseUsageTap();
            tap.Observe(bytes);
            answer = ProxyCascadeAnswer.FromStream(bytes);
            (usage, model) = (tap.Usage, tap.Model);
            skip = tap.Completed && tap.ErrorType is null ? null : "live_failed";
        }
        else
        {
            answer = ProxyCascadeAnswer.FromMessage(bytes);
            (usage, model) = ReadUsage(bytes);
        }

        skip ??= answer.IsToolCall ? "tool_call" : null;
        // The candidate is only asked what it would accept as it is (forced tool use, thinking mode, …: ModelFit).
        var features = _candidateEffort == EffortLevel.Unspecified
            ? call.Request.Features
            : call.Request.Features with { Traits = call.Request.Features.Traits with { Effort = _candidateEffort } };
        skip ??= _fit.Check(_candidate, features) != RuleViolation.None ? "candidate_rejects_request" : null;
        var cost = ShadowRunner.PriceOrNull(_recorder.Prices, startedAt, call.Route.Model, model, usage);
        return new ShadowLiveAnswer(call.Route.Model, answer.Text, usage, cost, prompt, skip);
    }

    private async Task<ShadowAnswer> CallCandidateAsync(CallContext call, string pairId, CancellationToken cancellationToken)
    {
        var body = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        using (var document = JsonDocument.Parse(call.Body))
        {
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name is not "stream" and not "model")
                {
                    body[property.Name] = property.Value.Clone();
                }
            }
        }

        body["model"] = JsonSerializer.SerializeToElement(_candidate);
        if (RequestTraitsReader.WireName(_candidateEffort) is { } effort)
        {
            var config = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            if (body.TryGetValue("output_config", out var existing) && existing.ValueKind == JsonValueKind.Object)
            {
                foreach (var member in existing.EnumerateObject())
                {
                    config[member.Name] = member.Value.Clone();
                }
            }

            config["effort"] = JsonSerializer.SerializeToElement(effort);
            body["output_config"] = JsonSerializer.SerializeToElement(config);
        }
        var headers = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        if (call.AnthropicBeta is { } beta)
        {
            headers["anthropic-beta"] = JsonSerializer.SerializeToElement(beta);
        }

        var startedAt = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        var record = new LedgerRecord
        {
            Id = LedgerIds.New(startedAt),
            Timestamp = startedAt,
            RequestId = pairId,
            TaskLabel = call.TaskLabel,
            RequestedModel = call.Request.Model,
            RoutedModel = _candidate,
            Effort = _recorder.EffortOf(_candidate, _candidateEffort != EffortLevel.Unspecified ? _candidateEffort : call.Effort, out var effortIsDefault),
            EffortIsDefault = effortIsDefault,
            Policy = ShadowRunner.Policy,
            Reason = $"shadow of request {call.RequestId} (live on {call.Route.Model})",
            ShadowPairId = pairId,
        };

        // Stopping before anything was journaled or sent: nothing to record.
        cancellationToken.ThrowIfCancellationRequested();
        var worstCase = UsageEstimate.Unanswered(call.Body, call.Request.MaxTokens);

        // Journaled before it is sent (ProxyIntents.cs), at the worst case of the body sent, against the pair's
        // shadow-budget hold (IntentReservation, set by the runner); not on the runner's token: an intent made durable
        // is followed by the call and its record.
        if (_intents.Enabled)
        {
            await _intents.RegisterAsync(LedgerIntent.For(record, worstCase, IntentReservation.Current), CancellationToken.None);
            if (cancellationToken.IsCancellationRequested)
            {
                // Stopping before the call was sent: its record (nothing consumed, nothing owed) completes the intent.
                await _recorder.RecordAsync(record with { Status = LedgerStatus.Failed, ErrorType = "cancelled" }, CancellationToken.None);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        Message message;
        string? upstreamRequestId;
        try
        {
            // Through the raw response: the same call, and the upstream's request-id for the record.
            using var response = await _sdk.WithRawResponse.Messages.Create(MessageCreateParams.FromRawUnchecked(headers, new Dictionary<string, JsonElement>(), body), cancellationToken);
            upstreamRequestId = response.RequestID;
            message = await response.Deserialize(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // A stop cancelled the call after it was sent: the API may bill it and no usage came back, so it is recorded
            // at its worst case, as a call its client left (docs/ledger.md "Clients that hang up"), before the stop ends.
            await _recorder.RecordAsync(record with
            {
                LatencyMs = (long)_time.GetElapsedTime(started).TotalMilliseconds,
                Status = LedgerStatus.Failed,
                ErrorType = "cancelled",
                Usage = worstCase,
                UsageEstimated = true,
            }, CancellationToken.None);
            throw;
        }
        catch (Exception exception)
        {
            var api = exception as AnthropicApiException;
            await _recorder.RecordAsync(record with
            {
                LatencyMs = (long)_time.GetElapsedTime(started).TotalMilliseconds,
                Status = api is null ? LedgerStatus.Failed : LedgerStatus.Error,
                HttpStatus = api is null ? 0 : (int)api.StatusCode,
                ErrorType = api is null ? "upstream_unreachable" : AnthropicError.TypeFor((int)api.StatusCode),
                UpstreamRequestId = api?.RequestID,
            }, CancellationToken.None);
            throw;
        }

        var usage = AnthropicUsage.FromSdk(message.Usage);
        var stored = await _recorder.RecordAsync(record with
        {
            LatencyMs = (long)_time.GetElapsedTime(started).TotalMilliseconds,
            Usage = usage,
            HttpStatus = 200,
            UpstreamRequestId = upstreamRequestId,
        }, CancellationToken.None);
        var text = string.Concat(message.Content.Select(block => block.TryPickText(out var textBlock) ? textBlock!.Text : string.Empty));
        return new ShadowAnswer(text, usage, stored.Cost?.Total);
    }

    private static (TokenUsage Usage, string? Model) ReadUsage(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? AnthropicUsage.FromJson(u) : default;
            var model = root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            return (usage, model);
        }
        catch (JsonException)
        {
            return (default, null);
        }
    }

    /// <summary>A copy of a sampled stream's bytes as they are relayed (only for sampled streaming requests).</summary>
    internal sealed class StreamCapture
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new(4096);

        public void Append(ReadOnlySpan<byte> chunk) => System.Buffers.BuffersExtensions.Write(_buffer, chunk);

        public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
    }
}
