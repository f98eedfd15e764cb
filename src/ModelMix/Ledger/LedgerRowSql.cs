namespace ModelMix.Ledger;

/// <summary>
/// The ledger's row SQL that is the same in every store backend (the column lists and codes are in
/// <see cref="SqliteLedgerSchema"/>, which both backends share): written once so the SQLite and PostgreSQL stores
/// cannot drift apart.
/// </summary>
internal static class LedgerRowSql
{
    /// <summary>The columns a correction rewrites (<see cref="ILedgerCorrections"/>): the usage, its cost, the estimate flag.</summary>
    /// <param name="p">The parameter prefix of the backend (<c>$</c> for SQLite, <c>@</c> for PostgreSQL).</param>
    /// <param name="cleared">The backend's literal for a cleared estimate flag.</param>
    public static string CorrectionSet(char p, string cleared) =>
        $"input_tokens = {p}i, output_tokens = {p}o, cache_write_5m_tokens = {p}w5, cache_write_1h_tokens = {p}w1, cache_read_tokens = {p}r, " +
        $"service_tier = {p}tier, speed = {p}speed, inference_geo = {p}geo, web_search_requests = {p}ws, web_fetch_requests = {p}wf, " +
        $"cost_input = {p}ci, cost_output = {p}co, cost_cache_write_5m = {p}cw5, cost_cache_write_1h = {p}cw1, cost_cache_read = {p}cr, " +
        $"cost_server_tools = {p}cst, cost_total = {p}ct, usage_estimated = {cleared}";
}
