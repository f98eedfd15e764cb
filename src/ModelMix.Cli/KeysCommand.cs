using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ModelMix.Budgets;
using ModelMix.Keys;
using ModelMix.Ledger;
using Spectre.Console;

namespace ModelMix.Cli;

/// <summary>
/// <c>modelmix keys</c>: create, list and revoke the proxy's virtual API keys and their budgets, in the ledger's
/// SQLite file. A key is printed once, at creation; only its salted hash is stored.
/// </summary>
internal static class KeysCommand
{
    public static Command Create() => new("keys", "Manage the proxy's virtual API keys and their budgets (stored hashed in the ledger file).")
    {
        CreateCommand(),
        ListCommand(),
        RevokeCommand(),
    };

    private static Command CreateCommand()
    {
        var name = new Option<string>("--name") { Description = "A name for the key, e.g. team-a (letters, digits, '.', '_', '-').", Required = true };
        var budget = new Option<string[]>("--budget")
        {
            Description = "A spending cap AMOUNT/WINDOW in USD: 50/day, 500/month or 2000/total (UTC windows); repeatable.",
            AllowMultipleArgumentsPerToken = false,
        };
        var admin = new Option<bool>("--admin") { Description = "Allow the key to use admin endpoints." };
        var db = CommonOptions.Db();
        var format = CommonOptions.Format();
        var command = new Command("create", "Create a key and print it once (it cannot be shown again).") { name, budget, admin, db, format };
        command.SetAction(async (result, cancellationToken) =>
        {
            var error = result.InvocationConfiguration.Error;
            var caps = new List<BudgetCap>();
            foreach (var text in result.GetValue(budget) ?? [])
            {
                if (!BudgetCap.TryParse(text, out var cap, out var problem))
                {
                    await error.WriteLineAsync("modelmix keys create: --budget " + problem);
                    return 1;
                }

                caps.Add(cap);
            }

            return await RunAsync(result, db, "create", async (keys, _, output) =>
            {
                var created = await keys.CreateAsync(result.GetValue(name)!, caps, result.GetValue(admin), cancellationToken);
                if (result.GetValue(format) == "json")
                {
                    await output.WriteLineAsync(JsonSerializer.Serialize(new
                    {
                        id = created.Info.Id,
                        name = created.Info.Name,
                        key = created.Key,
                        admin = created.Info.IsAdmin,
                        budgets = created.Info.Budgets.Select(cap => cap.ToString()),
                    }, Output.Json));
                    return 0;
                }

                await output.WriteLineAsync($"Created key '{created.Info.Name}' (id {created.Info.Id}){(created.Info.IsAdmin ? ", admin" : string.Empty)}; budgets: {Describe(created.Info.Budgets)}.");
                await output.WriteLineAsync("Store it now: it is shown only this once, and only its hash is kept.");
                await output.WriteLineAsync(created.Key);
                return 0;
            });
        });
        return command;
    }

    private static Command ListCommand()
    {
        var db = CommonOptions.Db();
        var format = CommonOptions.Format();
        var command = new Command("list", "List the keys: name, id, created, budgets and spend so far (never the keys themselves).") { db, format };
        command.SetAction(async (result, cancellationToken) => await RunAsync(result, db, "list", async (keys, budgets, output) =>
        {
            var now = DateTimeOffset.UtcNow;
            var all = await keys.ListAsync(includeRevoked: true, cancellationToken);
            var spent = await LedgerSpendAsync(result.GetValue(db)!, all.Select(key => key.Id), cancellationToken);
            var rows = new List<KeyRow>();
            foreach (var key in all)
            {
                var usage = new List<BudgetRow>();
                foreach (var cap in key.Budgets)
                {
                    var used = await budgets.GetUsageAsync(key.BudgetScope, cap.Window, now, cancellationToken);
                    usage.Add(new BudgetRow(BudgetPeriods.ToCode(cap.Window), cap.AmountUsd, used.SpentUsd, used.ReservedUsd, BudgetPeriods.End(cap.Window, now)));
                }

                rows.Add(new KeyRow(key.Name, key.Id, key.CreatedAt, key.RevokedAt, key.IsAdmin, usage, spent.GetValueOrDefault(key.Id)));
            }

            if (result.GetValue(format) == "json")
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(rows, Output.Json));
                return 0;
            }

            if (rows.Count == 0)
            {
                await output.WriteLineAsync("No keys: the proxy serves without authentication, on loopback only. Create one with `modelmix keys create --name NAME`.");
                return 0;
            }

            var table = new Table().AddColumn("name").AddColumn("id").AddColumn("created").AddColumn("status")
                .AddColumn("budgets (spent / cap)").AddColumn(new TableColumn("spent (ledger)").RightAligned());
            foreach (var row in rows)
            {
                var status = row.RevokedAt is { } revoked ? "revoked " + revoked.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) : row.Admin ? "active, admin" : "active";
                var caps = row.Budgets.Count == 0
                    ? "unlimited"
                    : string.Join("\n", row.Budgets.Select(b => $"{b.Window}: {Output.Usd(b.SpentUsd)} / {Output.Usd(b.CapUsd)}" + (b.ReservedUsd > 0 ? $" (+{Output.Usd(b.ReservedUsd)} held)" : string.Empty)));
                table.AddRow(
                    Markup.Escape(row.Name),
                    row.Id,
                    row.CreatedAt.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
                    status,
                    Markup.Escape(caps),
                    Output.Usd(row.SpentUsd));
            }

            Output.Console(output).Write(table);
            return 0;
        }));
        return command;
    }

    private static Command RevokeCommand()
    {
        var target = new Argument<string>("key") { Description = "The key's name or id." };
        var db = CommonOptions.Db();
        var command = new Command("revoke", "Revoke a key: every running proxy refuses it (401) within ModelMix:Keys:RecheckInterval, 1 s by default.") { target, db };
        command.SetAction(async (result, cancellationToken) => await RunAsync(result, db, "revoke", async (keys, _, output) =>
        {
            var revoked = await keys.RevokeAsync(result.GetValue(target)!, cancellationToken);
            await output.WriteLineAsync($"Revoked key '{revoked.Name}' (id {revoked.Id}).");
            return 0;
        }));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult result, Option<string> db, string verb, Func<IKeyStore, IBudgetStore, TextWriter, Task<int>> action)
    {
        var path = result.GetValue(db)!;
        try
        {
            var location = ModelMix.Stores.StoreLocation.Parse(path);
            await using var keys = location.CreateKeyStore();
            await using var budgets = location.CreateBudgetStore();
            await keys.MigrateAsync();
            await budgets.MigrateAsync();
            return await action(keys, budgets, result.InvocationConfiguration.Output);
        }
        catch (Exception exception) when (exception is ApiKeyException or FormatException or System.Data.Common.DbException or IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            await result.InvocationConfiguration.Error.WriteLineAsync($"modelmix keys {verb}: {exception.Message}");
            return 1;
        }
    }

    /// <summary>All-time recorded spend per key id, from the ledger in the same file (indexed by key id).</summary>
    private static async Task<Dictionary<string, decimal>> LedgerSpendAsync(string path, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var spend = new Dictionary<string, decimal>(StringComparer.Ordinal);
        await using var store = ModelMix.Stores.StoreLocation.Parse(path).CreateLedgerStore();
        await store.MigrateAsync(cancellationToken);
        foreach (var id in ids)
        {
            spend[id] = (await store.GetTotalsAsync(new LedgerQuery { KeyId = id }, cancellationToken)).Cost.Total;
        }

        return spend;
    }

    private static string Describe(IReadOnlyList<BudgetCap> caps) => caps.Count == 0 ? "none (unlimited)" : string.Join(", ", caps);

    private sealed record BudgetRow(string Window, decimal CapUsd, decimal SpentUsd, decimal ReservedUsd, DateTimeOffset? ResetsAt);

    private sealed record KeyRow(string Name, string Id, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt, bool Admin, IReadOnlyList<BudgetRow> Budgets, decimal SpentUsd);
}
