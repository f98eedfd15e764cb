namespace ModelMix.Ledger;

/// <summary>
/// The ledger's row SQL that is the same in every store backend (the column lists and codes are in
/// <see cref="SqliteLedgerSchema"/>, which both backends share): written once so the SQLite and PostgreSQL stores
/// cannot drift apart.
/// </summary>
internal static class LedgerRowSql
{
    /// <summary><see cref="SqliteLedgerSchema.IntentColumns"/> qualified with the alias <c>i</c>, for reads.</summary>
    public static readonly string QualifiedIntentColumns = string.Join(", ", SqliteLedgerSchema.IntentColumns.Split(", ").Select(column => "i." + column));

    /// <summary>The columns a correction rewrites (<see cref="ILedgerCorrections"/>): the usage, its cost, the estimate flag.</summary>
    /// <param name="p">The parameter prefix of the backend (<c>$</c> for SQLite, <c>@</c> for PostgreSQL).</param>
    /// <param name="cleared">The backend's literal for a cleared estimate flag.</param>
    public static string CorrectionSet(char p, string cleared) =>
        $"input_tokens = {p}i, output_tokens = {p}o, cache_write_5m_tokens = {p}w5, cache_write_1h_tokens = {p}w1, cache_read_tokens = {p}r, " +
        $"service_tier = {p}tier, speed = {p}speed, inference_geo = {p}geo, web_search_requests = {p}ws, web_fetch_requests = {p}wf, " +
        $"cost_input = {p}ci, cost_output = {p}co, cost_cache_write_5m = {p}cw5, cost_cache_write_1h = {p}cw1, cost_cache_read = {p}cr, " +
        $"cost_server_tools = {p}cst, cost_total = {p}ct, usage_estimated = {cleared}";

    /// <summary>Throws <see cref="ArgumentException"/> for an intent that could never become a stored record.</summary>
    public static void RequireIntentFields(LedgerIntent intent, string paramName)
    {
        ArgumentNullException.ThrowIfNull(intent, paramName);
        if (string.IsNullOrEmpty(intent.Id) || string.IsNullOrEmpty(intent.RequestId) ||
            string.IsNullOrEmpty(intent.RequestedModel) || string.IsNullOrEmpty(intent.RoutedModel))
        {
            throw new ArgumentException(
                $"Ledger intent '{intent.Id}' lacks a required field: Id, RequestId, RequestedModel and RoutedModel must be non-empty.",
                paramName);
        }
    }
}
