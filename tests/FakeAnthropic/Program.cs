using System.Globalization;
using System.Runtime.InteropServices;
using FakeAnthropic;

// Standalone fake Anthropic API for load scripts:
//   dotnet run --project tests/FakeAnthropic -- --urls http://127.0.0.1:9100 [--no-auth] [--delay-ms N] [--event-delay-ms N]
//     [--fault-share P] [--seed N]   (P in 0..1: that share of answers is a fault: 429, 529, 500, a cut stream or body,
//                                     malformed JSON, an error event mid-stream; bench/soak.sh uses it)
//     [--batch-lie-share P]           (that share of Message Batches answers lies: 500, garbage, missing fields, repeated ids,
//                                     results with garbage, strangers' and repeated lines)
var url = new Uri("http://127.0.0.1:9100");
var requireKey = true;
var delay = TimeSpan.Zero;
var eventDelay = TimeSpan.Zero;
var faultShare = 0.0;
var batchLieShare = 0.0;
var seed = 1;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--urls" when i + 1 < args.Length:
            url = new Uri(args[++i].Split(';')[0]);
            break;
        case "--fault-share" when i + 1 < args.Length:
            faultShare = double.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--batch-lie-share" when i + 1 < args.Length:
            batchLieShare = double.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--seed" when i + 1 < args.Length:
            seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--no-auth":
            requireKey = false;
            break;
        case "--delay-ms" when i + 1 < args.Length:
            delay = TimeSpan.FromMilliseconds(int.Parse(args[++i], CultureInfo.InvariantCulture));
            break;
        case "--event-delay-ms" when i + 1 < args.Length:
            eventDelay = TimeSpan.FromMilliseconds(int.Parse(args[++i], CultureInfo.InvariantCulture));
            break;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}'");
            return 2;
    }
}

await using var server = await FakeAnthropicServer.StartAsync(url, consoleLogging: true, CancellationToken.None);
server.RequireApiKey = requireKey;
server.RecordRequests = false;
server.SetDefault(FakeReply.Default.WithDelay(delay).WithEventDelay(eventDelay));
if (batchLieShare > 0)
{
    BatchLiar.Install(server.Batches, batchLieShare, seed);
}

Console.WriteLine($"FakeAnthropic listening on {server.BaseUrl} (Ctrl+C to stop)");
using var feeding = new CancellationTokenSource();
var feeder = faultShare > 0 ? FaultFeeder.RunAsync(server, faultShare, seed, delay, eventDelay, feeding.Token) : Task.CompletedTask;

var stop = new TaskCompletionSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.TrySetResult();
}

using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
await stop.Task;
await feeding.CancelAsync();
await feeder;
Console.WriteLine("FakeAnthropic stopped");
return 0;
