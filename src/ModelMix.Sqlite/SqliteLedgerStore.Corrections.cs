using Microsoft.Data.Sqlite;
using ModelMix.Pricing;

namespace ModelMix.Ledger;

public sealed partial class SqliteLedgerStore : ILedgerCorrections
{
    /// <summary>The columns a correction rewrites (<see cref="ILedgerCorrections"/>): the usage, its cost, the estimate flag.</summary>
    internal static string CorrectionSet(char p, string cleared) => LedgerRowSql.CorrectionSet(p, cleared);

    /// <inheritdoc />
    public async Task<int> CorrectEstimatesAsync(IReadOnlyList<(string Id, TokenUsage Usage)> corrections, Func<LedgerRecord, CostBreakdown?> price, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(corrections);
        ArgumentNullException.ThrowIfNull(price);
        if (corrections.Count == 0)
        {
            return 0;
        }

        await ModelMix.Threading.IoThreads.LeaveAsync();
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            EnsureMigrated();
            var connection = OpenWriter();
            using var transaction = connection.BeginTransaction(deferred: false);
            var hours = new SortedSet<long>();
            var corrected = 0;
            using var select = connection.CreateCommand();
            select.Transaction = transaction;
            select.CommandText = $"SELECT {SqliteLedgerSchema.SelectColumns}, seq FROM ledger_records WHERE id = $id AND usage_estimated = 1;";
            var id = select.Parameters.Add("$id", SqliteType.Text);
            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE ledger_records SET " + CorrectionSet('$', "0") + " WHERE seq = $seq AND usage_estimated = 1;";
            foreach (var (recordId, usage) in corrections)
            {
                cancellationToken.ThrowIfCancellationRequested();
                id.Value = recordId;
                LedgerRecord stored;
                long seq;
                using (var reader = select.ExecuteReader())
                {
                    if (!reader.Read())
                    {
                        continue; // not stored, or corrected already
                    }

                    stored = ReadRecord(reader);
                    seq = reader.GetInt64(SqliteLedgerSchema.Columns.Length);
                }

                var record = stored with { Usage = usage, UsageEstimated = false, Cost = null };
                var cost = price(record);
                update.Parameters.Clear();
                update.Parameters.AddWithValue("$i", usage.InputTokens);
                update.Parameters.AddWithValue("$o", usage.OutputTokens);
                update.Parameters.AddWithValue("$w5", usage.CacheWrite5mTokens);
                update.Parameters.AddWithValue("$w1", usage.CacheWrite1hTokens);
                update.Parameters.AddWithValue("$r", usage.CacheReadTokens);
                update.Parameters.AddWithValue("$tier", SqliteLedgerSchema.ToCode(usage.ServiceTier));
                update.Parameters.AddWithValue("$speed", SqliteLedgerSchema.ToCode(usage.Speed));
                update.Parameters.AddWithValue("$geo", (object?)usage.InferenceGeo ?? DBNull.Value);
                update.Parameters.AddWithValue("$ws", usage.WebSearchRequests);
                update.Parameters.AddWithValue("$wf", usage.WebFetchRequests);
                update.Parameters.AddWithValue("$ci", CorrectionMoney(cost?.Input));
                update.Parameters.AddWithValue("$co", CorrectionMoney(cost?.Output));
                update.Parameters.AddWithValue("$cw5", CorrectionMoney(cost?.CacheWrite5m));
                update.Parameters.AddWithValue("$cw1", CorrectionMoney(cost?.CacheWrite1h));
                update.Parameters.AddWithValue("$cr", CorrectionMoney(cost?.CacheRead));
                update.Parameters.AddWithValue("$cst", CorrectionMoney(cost?.ServerTools));
                update.Parameters.AddWithValue("$ct", CorrectionMoney(cost?.Total));
                update.Parameters.AddWithValue("$seq", seq);
                corrected += update.ExecuteNonQuery();
                hours.Add(SqliteLedgerRollups.HourOf(SqliteLedgerSchema.ToStoredTimestamp(stored.Timestamp)));
            }

            foreach (var hour in hours)
            {
                RequireRawRows(connection, transaction, hour, hour + LedgerRollupSql.HourTicks);
                SqliteLedgerRollups.Recompute(connection, transaction, hour, hour + LedgerRollupSql.HourTicks);
            }

            transaction.Commit();
            return corrected;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not ObjectDisposedException and not InvalidOperationException)
        {
            ResetWriter();
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static object CorrectionMoney(decimal? value) => value is { } money ? SqliteLedgerSchema.ToStoredDecimal(money) : DBNull.Value;
}
