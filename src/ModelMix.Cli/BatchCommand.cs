using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix batch submit|status|results|cancel</c>: talks to a running proxy (<c>--url</c>, <c>--key</c> or
/// <c>MODELMIX_API_KEY</c>) over HTTP, so the batch queue, routing, auth and the ledger stay in one place — the proxy
/// that runs the batcher.
/// </summary>
internal static class BatchCommand
{
    public static Command Create()
    {
        var command = new Command("batch", "Queue non-urgent Messages requests for the Message Batches API (50% off) through a running proxy.");
        command.Subcommands.Add(Submit());
        command.Subcommands.Add(Status());
        command.Subcommands.Add(Results());
        command.Subcommands.Add(Cancel());
        return command;
    }

    private static Option<string> Url() => new("--url")
    {
        Description = "The proxy's base URL.",
        DefaultValueFactory = _ => "http://127.0.0.1:8080",
    };

    private static Option<string?> Key() => new("--key") { Description = "A ModelMix virtual key (default: the MODELMIX_API_KEY environment variable)." };

    private static Option<bool> Wait() => new("--wait") { Description = "Wait until every request has a result, with a progress bar." };

    private static Command Submit()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "JSONL: one request per line, either {\"custom_id\": …, \"params\": {Messages request}} or a bare Messages request." };
        var url = Url();
        var key = Key();
        var wait = Wait();
        var idempotency = new Option<string?>("--idempotency-key") { Description = "Submitting again with the same key returns the same job instead of queuing the requests twice (default: a fresh key per run)." };
        var command = new Command("submit", "Queue the requests of FILE as one batch job; prints the job id.") { file, url, key, wait, idempotency };
        command.SetAction(async (result, cancellationToken) =>
        {
            var path = result.GetValue(file)!;
            if (!path.Exists)
            {
                await Console.Error.WriteLineAsync($"modelmix batch submit: '{path.FullName}' does not exist.");
                return 1;
            }

            var requests = new JsonArray();
            var number = 0;
            foreach (var line in await File.ReadAllLinesAsync(path.FullName, cancellationToken))
            {
                number++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                JsonNode? node;
                try
                {
                    node = JsonNode.Parse(line);
                }
                catch (JsonException exception)
                {
                    await Console.Error.WriteLineAsync($"modelmix batch submit: line {number} is not JSON: {exception.Message}");
                    return 1;
                }

                if (node is not JsonObject entry)
                {
                    await Console.Error.WriteLineAsync($"modelmix batch submit: line {number} is not a JSON object.");
                    return 1;
                }

                requests.Add(entry.ContainsKey("params") ? entry : new JsonObject { ["custom_id"] = $"line-{number}", ["params"] = entry });
            }

            using var http = Client(result.GetValue(url)!, result.GetValue(key));
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/modelmix/batch")
            {
                Content = new StringContent(new JsonObject { ["requests"] = requests }.ToJsonString(), Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", result.GetValue(idempotency) ?? Guid.NewGuid().ToString("N"));
            var job = await SendAsync(http, request, cancellationToken);
            if (job is null)
            {
                return 1;
            }

            var id = job["id"]!.GetValue<string>();
            Console.Out.WriteLine(id);
            return result.GetValue(wait) ? await WaitAsync(http, id, cancellationToken) : 0;
        });
        return command;
    }

    private static Command Status()
    {
        var id = new Argument<string>("ID") { Description = "The job id (mmxjob_…)." };
        var url = Url();
        var key = Key();
        var wait = Wait();
        var command = new Command("status", "Show a job's status and counts.") { id, url, key, wait };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var http = Client(result.GetValue(url)!, result.GetValue(key));
            if (result.GetValue(wait))
            {
                return await WaitAsync(http, result.GetValue(id)!, cancellationToken);
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, JobPath(result.GetValue(id)!));
            return await PrintJobAsync(http, request, cancellationToken);
        });
        return command;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The proxy path of job <paramref name="id"/>.</summary>
    private static string JobPath(string id) => $"v1/modelmix/batch/{Uri.EscapeDataString(id)}";

    /// <summary>Sends <paramref name="request"/> and prints the job it answers; 1 when it failed (the error is printed).</summary>
    private static async Task<int> PrintJobAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var job = await SendAsync(http, request, cancellationToken);
        if (job is null)
        {
            return 1;
        }

        Console.Out.WriteLine(job.ToJsonString(Indented));
        return 0;
    }

    private static Command Cancel()
    {
        var id = new Argument<string>("ID") { Description = "The job id (mmxjob_…)." };
        var url = Url();
        var key = Key();
        var command = new Command("cancel", "Cancel a job: queued requests are canceled at once, sent ones are canceled upstream; prints the job.") { id, url, key };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var http = Client(result.GetValue(url)!, result.GetValue(key));
            using var request = new HttpRequestMessage(HttpMethod.Post, JobPath(result.GetValue(id)!) + "/cancel");
            return await PrintJobAsync(http, request, cancellationToken);
        });
        return command;
    }

    private static Command Results()
    {
        var id = new Argument<string>("ID") { Description = "The job id (mmxjob_…)." };
        var url = Url();
        var key = Key();
        var command = new Command("results", "Print a job's results as JSONL (one line per request that has a result: custom_id and the API's result object).") { id, url, key };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var http = Client(result.GetValue(url)!, result.GetValue(key));
            using var response = await http.GetAsync(JobPath(result.GetValue(id)!) + "/results", cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                await Console.Error.WriteLineAsync($"modelmix batch results: HTTP {(int)response.StatusCode}: {ErrorMessage(text)}");
                return 1;
            }

            await Console.Out.WriteAsync(text);
            return 0;
        });
        return command;
    }

    private static async Task<int> WaitAsync(HttpClient http, string id, CancellationToken cancellationToken)
    {
        JsonNode? job = null;
        var console = Output.Console(Console.Error);
        await console.Progress().StartAsync(async progress =>
        {
            var task = progress.AddTask($"batch {id}");
            while (!cancellationToken.IsCancellationRequested)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, JobPath(id));
                job = await SendAsync(http, request, cancellationToken);
                if (job is null)
                {
                    return;
                }

                var counts = job["request_counts"]!;
                var total = job["total"]!.GetValue<long>();
                var done = total - counts["queued"]!.GetValue<long>() - counts["processing"]!.GetValue<long>();
                task.MaxValue = Math.Max(1, total);
                task.Value = done;
                if (job["processing_status"]!.GetValue<string>() == "ended")
                {
                    task.StopTask();
                    return;
                }

                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        });
        if (job is null)
        {
            return 1;
        }

        Console.Out.WriteLine(job.ToJsonString(Indented));
        return 0;
    }

    private static HttpClient Client(string url, string? key)
    {
        var http = new HttpClient { BaseAddress = new Uri(url.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(5) };
        var apiKey = key ?? Environment.GetEnvironmentVariable("MODELMIX_API_KEY");
        if (apiKey is { Length: > 0 })
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return http;
    }

    private static async Task<JsonNode?> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            await Console.Error.WriteLineAsync($"modelmix batch: could not reach the proxy at {http.BaseAddress}: {exception.Message}");
            return null;
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                await Console.Error.WriteLineAsync($"modelmix batch: HTTP {(int)response.StatusCode}: {ErrorMessage(text)}");
                return null;
            }

            return JsonNode.Parse(text);
        }
    }

    private static string ErrorMessage(string body)
    {
        try
        {
            return JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>() ?? body;
        }
        catch (JsonException)
        {
            return body;
        }
    }
}
