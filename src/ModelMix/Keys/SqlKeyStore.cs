using System.Data.Common;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Keys;

/// <summary>
/// The key stores' reads, for the SQLite and PostgreSQL key stores alike: both keep the same columns (times as 100 ns
/// ticks, caps as nano-dollars; <c>is_admin</c> an integer in SQLite and a boolean in PostgreSQL, both read with
/// <see cref="DbDataReader.GetBoolean"/>), so the reads are one SQL text over the connection the store opens (migrated
/// first); each store writes with its own SQL and transactions.
/// </summary>
/// <param name="open">Opens a read connection, migrating the store first when it has not been.</param>
internal sealed class ApiKeyReads(Func<CancellationToken, Task<DbConnection>> open)
{
    private const string InfoColumns = "id, name, is_admin, created_at, revoked_at";

    /// <summary>Every key, oldest first (revoked ones included when asked), with its caps.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(bool includeRevoked, CancellationToken cancellationToken)
    {
        await using var connection = await open(cancellationToken);
        return await ListAsync(connection, includeRevoked, cancellationToken);
    }

    /// <summary>The key with this id, or else the key not revoked with this name; null when none.</summary>
    public async Task<ApiKeyInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        var keys = await ListAsync(includeRevoked: true, cancellationToken);
        return keys.FirstOrDefault(key => key.Id == nameOrId)
            ?? keys.FirstOrDefault(key => key.Name == nameOrId && key.RevokedAt is null);
    }

    /// <summary>The key <c>RevokeAsync</c> is to revoke: found by <see cref="FindAsync"/> and not revoked yet.</summary>
    /// <exception cref="ApiKeyException">No such key, or it is already revoked.</exception>
    public async Task<ApiKeyInfo> FindRevocableAsync(string nameOrId, CancellationToken cancellationToken)
    {
        var key = await FindAsync(nameOrId, cancellationToken)
            ?? throw new ApiKeyException($"No key has the id or name '{nameOrId}' (see modelmix keys list).");
        if (key.RevokedAt is not null)
        {
            throw new ApiKeyException($"Key '{key.Name}' ({key.Id}) was already revoked at {key.RevokedAt:O}.");
        }

        return key;
    }

    /// <summary>Whether any key that is not revoked exists.</summary>
    /// <exception cref="StoreUnavailableException">The store cannot be reached.</exception>
    public async Task<bool> HasActiveKeysAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await open(cancellationToken);
            await using var command = StoreCommands.Create(connection, "SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL);");
            return await StoreCommands.ScalarBooleanAsync(command, cancellationToken);
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("keys.has_active", exception);
        }
    }

    /// <summary>
    /// The key a client presented, when it is a valid key that is not revoked; null otherwise. The row is found by the
    /// public id, the secret checked in constant time. One store read per call.
    /// </summary>
    public async Task<ApiKeyInfo?> AuthenticateAsync(string? presented, CancellationToken cancellationToken)
    {
        if (presented is null || !ApiKeySecret.TryParse(presented, out var id, out var secret))
        {
            return null;
        }

        return ApiKeyVerification.Check(await FindStoredAsync(id, cancellationToken), secret);
    }

    /// <summary>The change version the key tables' triggers bump (see <see cref="IKeyCredentialStore.GetChangeVersionAsync"/>).</summary>
    /// <exception cref="StoreUnavailableException">The store cannot be reached.</exception>
    public async Task<long> ChangeVersionAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await open(cancellationToken);
            await using var command = StoreCommands.Create(connection, "SELECT version FROM api_key_version WHERE id = 1;");
            return await StoreCommands.ScalarInt64Async(command, cancellationToken);
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("keys.authenticate", exception);
        }
    }

    /// <summary>The key with this public id as stored (salt, hash and caps included), or null when there is none.</summary>
    /// <exception cref="StoreUnavailableException">The store cannot be reached.</exception>
    public async Task<StoredApiKey?> FindStoredAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await open(cancellationToken);
            return await FindStoredAsync(connection, id, cancellationToken);
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable("keys.authenticate", exception);
        }
    }

    private static async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(DbConnection connection, bool includeRevoked, CancellationToken cancellationToken)
    {
        var keys = new List<ApiKeyInfo>();
        await using (var command = StoreCommands.Create(
            connection, $"SELECT {InfoColumns} FROM api_keys" + (includeRevoked ? string.Empty : " WHERE revoked_at IS NULL") + " ORDER BY created_at, id;"))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                keys.Add(ReadInfo(reader));
            }
        }

        for (var i = 0; i < keys.Count; i++)
        {
            keys[i] = keys[i] with { Budgets = await ReadBudgetsAsync(connection, keys[i].Id, cancellationToken) };
        }

        return keys;
    }

    private static async Task<StoredApiKey?> FindStoredAsync(DbConnection connection, string id, CancellationToken cancellationToken)
    {
        ApiKeyInfo info;
        byte[] salt, hash;
        await using (var command = StoreCommands.Create(connection, $"SELECT {InfoColumns}, salt, hash FROM api_keys WHERE id = @id;", "@id", id))
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            info = ReadInfo(reader);
            salt = (byte[])reader.GetValue(5);
            hash = (byte[])reader.GetValue(6);
        }

        return new StoredApiKey(info with { Budgets = await ReadBudgetsAsync(connection, info.Id, cancellationToken) }, salt, hash);
    }

    private static ApiKeyInfo ReadInfo(DbDataReader reader) => new()
    {
        Id = reader.GetString(0),
        Name = reader.GetString(1),
        IsAdmin = reader.GetBoolean(2),
        CreatedAt = SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(3)),
        RevokedAt = reader.IsDBNull(4) ? null : SqliteLedgerSchema.FromStoredTimestamp(reader.GetInt64(4)),
    };

    private static async Task<IReadOnlyList<BudgetCap>> ReadBudgetsAsync(DbConnection connection, string id, CancellationToken cancellationToken)
    {
        await using var command = StoreCommands.Create(connection, "SELECT period, cap_nanos FROM api_key_budgets WHERE key_id = @id;", "@id", id);
        var caps = new List<BudgetCap>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (BudgetPeriods.TryParse(reader.GetString(0), out var window))
            {
                caps.Add(new BudgetCap(window, BudgetMoney.ToUsd(reader.GetInt64(1))));
            }
        }

        return ApiKeyRules.InWindowOrder(caps);
    }
}
