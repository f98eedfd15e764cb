using System.CommandLine;
using System.Text;
using ModelMix.Evaluation;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix dataset verified</c>: writes a routing dataset that records each answer's verifier outcome, built from
/// a dataset whose quality label is itself a check a deployment can run (MBPP's unit tests), so <c>modelmix eval</c>
/// can replay a verified cascade from computed figures. The source is read, never copied into the repository.
/// </summary>
internal static class DatasetCommand
{
    public static Command Create()
    {
        var dataset = DatasetOptions.Dataset();
        var tasks = new Option<string[]>("--task")
        {
            Description = "A task whose 0/1 quality is a verifier outcome (repeatable; default mbpp, whose label is its unit tests passing).",
        };
        var output = new Option<string>("--out") { Description = "The JSON Lines file to write.", Required = true };
        var verified = new Command("verified", "Write the prompts of tasks whose pass/fail quality a deployment can check itself (unit tests, exact match), each answer's 'verified' set from it, for eval's verified cascade.")
        {
            dataset, tasks, output,
        };
        verified.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            try
            {
                var path = result.GetValue(dataset)!;
                var wanted = result.GetValue(tasks) is { Length: > 0 } given ? given : [.. VerifiedDataset.TestedTasks];
                var records = VerifiedDataset.FromCorrectness(RoutingDataset.Read(path), wanted);
                if (records.Count == 0)
                {
                    await error.WriteLineAsync($"modelmix dataset verified: no prompt of {path} has the task {string.Join(" or ", wanted)}.");
                    return 1;
                }

                var file = result.GetValue(output)!;
                var folder = Path.GetDirectoryName(Path.GetFullPath(file));
                if (!string.IsNullOrEmpty(folder))
                {
                    Directory.CreateDirectory(folder);
                }

                await using (var writer = new StreamWriter(file, append: false, new UTF8Encoding(false)))
                {
                    foreach (var record in records)
                    {
                        await writer.WriteLineAsync(RoutingDataset.Format(record).AsMemory(), cancellationToken);
                    }
                }

                await result.InvocationConfiguration.Output.WriteLineAsync($"Wrote {records.Count} prompt(s) of {string.Join(", ", wanted)} with verifier outcomes to {file}.");
                return 0;
            }
            catch (Exception exception) when (exception is DatasetFormatException or FileNotFoundException or IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync("modelmix dataset verified: " + exception.Message);
                return 1;
            }
        });
        return new Command("dataset", "Build routing datasets.") { verified };
    }
}
