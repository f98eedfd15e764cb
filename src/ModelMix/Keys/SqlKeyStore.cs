using System.Data.Common;
using ModelMix.Budgets;
using ModelMix.Ledger;
using ModelMix.Stores;

namespace ModelMix.Keys;

/// <summary>
/// What the SQL key stores (<c>SqliteKeyStore</c>, <c>ModelMix.Postgres.PostgresKeyStore</c>) share: both keep the same
/// tables and columns (times as 100 ns ticks, caps as nano-dollars; <c>is_admin</c> an integer in SQLite and a boolean
/// in PostgreSQL, both bound from a <see cref="bool"/> and read with <see cref="DbDataReader.GetBoolean"/>), so the
/// reads and writes are one SQL text each (parameters spelled <c>@name</c>, which both drivers bind) over the
/// connection and transaction the store opens (migrated first). Each store keeps its schema (two SQL dialects), how it
/// opens and writes, and how its driver reports a duplicate name. Only the store packages of this repository derive
/// from it (its constructor is not visible elsewhere); a new backend implements <see cref="IKeyStore"/>.
/// </summary>
public abstract class SqlKeyStore : IKeyStore, IKeyCredentialStore
{
    private const string InfoColumns = "id, name, is_admin, created_at, revoked_at";

    private readonly TimeProvider _time;

    /// <summary>Creates the shared part of a store.</summary>
    /// <param name="time">The clock for creation and revocation times; the system clock when null.</param>
    private protected SqlKeyStore(TimeProvider? time) => _time = time ?? TimeProvider.System;

    /// <summary>
    /// The key tables, migration 1 of every backend: the same columns, keys and index, in the backend's column types and
    /// table options. A name is unique among keys not revoked (a revoked name may be reused); instants are 100 ns ticks
    /// since the Unix epoch (UTC); caps are nano-dollars.
    /// </summary>
    /// <param name="text">The type of a text column.</param>
    /// <param name="bytes">The type of the salt and hash.</param>
    /// <param name="flag">The type of the admin flag.</param>
    /// <param name="int64">The type of an instant or a cap.</param>
    /// <param name="keyTable">What follows <c>api_keys</c>' column list (its table options), or empty.</param>
    /// <param name="budgetTable">What follows <c>api_key_budgets</c>' column list, or empty.</param>
    private protected static string KeyTables(string text, string bytes, string flag, string int64, string keyTable, string budgetTable) => $"""
        CREATE TABLE api_keys (
            id         {text,-7} PRIMARY KEY,
            name       {text,-7} NOT NULL,
            salt       {bytes,-7} NOT NULL,
            hash       {bytes,-7} NOT NULL,
            is_admin   {flag,-7} NOT NULL,
            created_at {int64,-7} NOT NULL,
            revoked_at {int64}
        ){keyTable};
        CREATE UNIQUE INDEX ux_api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;
        CREATE TABLE api_key_budgets (
            key_id    {text,-7} NOT NULL REFERENCES api_keys (id),
            period    {text,-7} NOT NULL,
            cap_nanos {int64,-7} NOT NULL,
            PRIMARY KEY (key_id, period)
        ){budgetTable};
        """;

    /// <inheritdoc />
    public abstract string Location { get; }

    /// <inheritdoc />
    public abstract Task MigrateAsync(CancellationToken cancellationToken = default);

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();

    /// <inheritdoc />
    public async Task<CreatedApiKey> CreateAsync(string name, IReadOnlyList<BudgetCap>? budgets = null, bool isAdmin = false, CancellationToken cancellationToken = default)
    {
        var draft = ApiKeyDraft.Create(name, budgets, isAdmin);
        var now = _time.GetUtcNow();
        await WriteAsync(async (connection, transaction) =>
        {
            await using (var insert = StoreCommands.Create(
                connection, "INSERT INTO api_keys (id, name, salt, hash, is_admin, created_at) VALUES (@id, @name, @salt, @hash, @admin, @created);", transaction))
            {
                StoreCommands.Add(insert, "@id", draft.Id);
                StoreCommands.Add(insert, "@name", name);
                StoreCommands.Add(insert, "@salt", draft.Salt);
                StoreCommands.Add(insert, "@hash", draft.Hash);
                StoreCommands.Add(insert, "@admin", draft.IsAdmin);
                StoreCommands.Add(insert, "@created", SqliteLedgerSchema.ToStoredTimestamp(now));
                try
                {
                    await insert.ExecuteNonQueryAsync(cancellationToken);
                }
                catch (DbException exception) when (IsUniqueViolation(exception))
                {
                    throw ApiKeyRules.DuplicateName(name, exception);
                }
            }

            foreach (var cap in draft.Budgets)
            {
                await using var insertCap = StoreCommands.Create(connection, "INSERT INTO api_key_budgets (key_id, period, cap_nanos) VALUES (@id, @period, @cap);", transaction);
                StoreCommands.Add(insertCap, "@id", draft.Id);
                StoreCommands.Add(insertCap, "@period", BudgetPeriods.ToCode(cap.Window));
                StoreCommands.Add(insertCap, "@cap", BudgetMoney.CapToNanos(cap.AmountUsd));
                await insertCap.ExecuteNonQueryAsync(cancellationToken);
            }
        }, cancellationToken);
        return draft.Created(now);
    }

    /// <inheritdoc />
    public async Task<ApiKeyInfo> RevokeAsync(string nameOrId, CancellationToken cancellationToken = default)
    {
        var key = await FindRevocableAsync(nameOrId, cancellationToken);
        var now = _time.GetUtcNow();
        await WriteAsync(async (connection, transaction) =>
        {
            await using var update = StoreCommands.Create(connection, "UPDATE api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL;", transaction);
            StoreCommands.Add(update, "@now", SqliteLedgerSchema.ToStoredTimestamp(now));
            StoreCommands.Add(update, "@id", key.Id);
            await update.ExecuteNonQueryAsync(cancellationToken);
        }, cancellationToken);
        return key with { RevokedAt = now };
    }

    /// <summary>Opens a read connection, migrating the store first when it has not been.</summary>
    private protected abstract Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken);

    /// <summary>Runs <paramref name="work"/> in a write transaction of its own (migrating first) and commits it.</summary>
    private protected abstract Task WriteAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken cancellationToken);

    /// <summary>Whether the driver's <paramref name="exception"/> is a unique-index violation (a name already in use).</summary>
    private protected abstract bool IsUniqueViolation(DbException exception);

    /// <inheritdoc />
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(bool includeRevoked = true, CancellationToken cancellationToken = default)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        await using var connection = await OpenReaderAsync(cancellationToken);
        return await ListAsync(connection, includeRevoked, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<ApiKeyInfo?> FindAsync(string nameOrId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(nameOrId);
        var keys = await ListAsync(includeRevoked: true, cancellationToken);
        return keys.FirstOrDefault(key => key.Id == nameOrId)
            ?? keys.FirstOrDefault(key => key.Name == nameOrId && key.RevokedAt is null);
    }

    /// <summary>The key <c>RevokeAsync</c> is to revoke: found by <see cref="FindAsync"/> and not revoked yet.</summary>
    /// <exception cref="ApiKeyException">No such key, or it is already revoked.</exception>
    private async Task<ApiKeyInfo> FindRevocableAsync(string nameOrId, CancellationToken cancellationToken)
    {
        var key = await FindAsync(nameOrId, cancellationToken)
            ?? throw new ApiKeyException($"No key has the id or name '{nameOrId}' (see modelmix keys list).");
        if (key.RevokedAt is not null)
        {
            throw new ApiKeyException($"Key '{key.Name}' ({key.Id}) was already revoked at {key.RevokedAt:O}.");
        }

        return key;
    }

    /// <inheritdoc />
    /// <exception cref="StoreUnavailableException">The store cannot be reached.</exception>
    public Task<bool> HasActiveKeysAsync(CancellationToken cancellationToken = default) =>
        ReadOrUnavailableAsync("keys.has_active", "SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL);", static async (connection, sql, cancellationToken) =>
        {
            await using var command = StoreCommands.Create(connection, sql);
            return await StoreCommands.ScalarBooleanAsync(command, cancellationToken);
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// The row is found by the public id, the secret checked in constant time. One store read per call: the proxy puts a
    /// <see cref="CachedKeyStore"/> in front.
    /// </remarks>
    public async Task<ApiKeyInfo?> AuthenticateAsync(string? presented, CancellationToken cancellationToken = default)
    {
        if (presented is null || !ApiKeySecret.TryParse(presented, out var id, out var secret))
        {
            return null;
        }

        return ApiKeyVerification.Check(await ((IKeyCredentialStore)this).FindStoredAsync(id, cancellationToken), secret);
    }

    /// <inheritdoc />
    Task<long> IKeyCredentialStore.GetChangeVersionAsync(CancellationToken cancellationToken) =>
        ReadOrUnavailableAsync("keys.authenticate", "SELECT version FROM api_key_version WHERE id = 1;", static async (connection, sql, cancellationToken) =>
        {
            await using var command = StoreCommands.Create(connection, sql);
            return await StoreCommands.ScalarInt64Async(command, cancellationToken);
        }, cancellationToken);

    /// <inheritdoc />
    Task<StoredApiKey?> IKeyCredentialStore.FindStoredAsync(string id, CancellationToken cancellationToken) =>
        ReadOrUnavailableAsync("keys.authenticate", id, FindStoredAsync, cancellationToken);

    /// <summary>
    /// Runs <paramref name="read"/> (given <paramref name="state"/>) on a read connection; a fault of the store's driver
    /// becomes a <see cref="StoreUnavailableException"/> naming <paramref name="operation"/>.
    /// </summary>
    private async Task<T> ReadOrUnavailableAsync<TState, T>(
        string operation, TState state, Func<DbConnection, TState, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        await ModelMix.Threading.IoThreads.LeaveAsync(); // here, not only in a callee: see IoThreads.cs
        try
        {
            await using var connection = await OpenReaderAsync(cancellationToken);
            return await read(connection, state, cancellationToken);
        }
        catch (Exception exception) when (StoreFaults.ShouldWrap(exception))
        {
            throw StoreFaults.Unavailable(operation, exception);
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
