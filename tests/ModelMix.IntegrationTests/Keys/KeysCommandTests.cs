using System.CommandLine;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using ModelMix.IntegrationTests.Proxy;
using ModelMix.Keys;

namespace ModelMix.IntegrationTests.Keys;

/// <summary><c>modelmix keys create / list / revoke</c>, run in-process on a real SQLite file.</summary>
public sealed class KeysCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private string Db => Path.Combine(_dir.Path, "ledger.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    [Fact]
    public async Task Create_prints_the_key_once_and_list_never_shows_it()
    {
        var created = await RunAsync("keys", "create", "--name", "team-a", "--budget", "50/day", "--budget", "2000/total", "--admin", "--db", Db);

        Assert.Equal(0, created.ExitCode);
        var key = created.Output.Split('\n', StringSplitOptions.TrimEntries).Single(line => line.StartsWith("mmx-", StringComparison.Ordinal));
        Assert.Matches("^mmx-[0-9A-Za-z]{44}$", key);
        Assert.Contains("shown only this once", created.Output, StringComparison.Ordinal);
        await using (var store = new SqliteKeyStore(Db))
        {
            var info = await store.AuthenticateAsync(key);
            Assert.NotNull(info);
            Assert.True(info.IsAdmin);
            Assert.Equal(["50/day", "2000/total"], info.Budgets.Select(cap => cap.ToString()));
        }

        var table = await RunAsync("keys", "list", "--db", Db);
        var json = await RunAsync("keys", "list", "--db", Db, "--format", "json");

        Assert.Equal(0, table.ExitCode);
        Assert.Contains("team-a", table.Output, StringComparison.Ordinal);
        Assert.Contains(key[4..16], table.Output, StringComparison.Ordinal);
        Assert.Contains("day: $0 / $50", table.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(key[16..], table.Output + json.Output, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(json.Output);
        var row = Assert.Single(document.RootElement.EnumerateArray());
        Assert.Equal("team-a", row.GetProperty("name").GetString());
        Assert.Equal(key[4..16], row.GetProperty("id").GetString());
        Assert.Equal(2, row.GetProperty("budgets").GetArrayLength());
        Assert.Equal(0m, row.GetProperty("spent_usd").GetDecimal());
    }

    [Fact]
    public async Task Revoke_by_name_or_id_and_say_when_there_is_nothing_to_revoke()
    {
        await RunAsync("keys", "create", "--name", "team-a", "--db", Db);
        var second = await RunAsync("keys", "create", "--name", "team-b", "--db", Db, "--format", "json");
        using var document = JsonDocument.Parse(second.Output);
        var id = document.RootElement.GetProperty("id").GetString()!;

        var byName = await RunAsync("keys", "revoke", "team-a", "--db", Db);
        var byId = await RunAsync("keys", "revoke", id, "--db", Db);
        var again = await RunAsync("keys", "revoke", "team-a", "--db", Db);
        var list = await RunAsync("keys", "list", "--db", Db);

        Assert.Equal(0, byName.ExitCode);
        Assert.Contains("Revoked key 'team-a'", byName.Output, StringComparison.Ordinal);
        Assert.Equal(0, byId.ExitCode);
        Assert.Contains("'team-b'", byId.Output, StringComparison.Ordinal);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("No key has the id or name 'team-a'", again.Error, StringComparison.Ordinal);
        Assert.Equal(2, list.Output.Split("revoked", StringSplitOptions.None).Length - 1);
    }

    [Fact]
    public async Task Bad_budget_or_duplicate_name_fails_with_a_message()
    {
        var badBudget = await RunAsync("keys", "create", "--name", "team-a", "--budget", "50/week", "--db", Db);
        await RunAsync("keys", "create", "--name", "team-a", "--db", Db);
        var duplicate = await RunAsync("keys", "create", "--name", "team-a", "--db", Db);

        Assert.Equal(1, badBudget.ExitCode);
        Assert.Contains("window 'week'", badBudget.Error, StringComparison.Ordinal);
        Assert.Equal(1, duplicate.ExitCode);
        Assert.Contains("already exists", duplicate.Error, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await global::ModelMix.Cli.Program.BuildRoot().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exitCode, output.ToString(), error.ToString());
    }
}
