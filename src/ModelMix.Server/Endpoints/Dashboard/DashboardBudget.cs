namespace ModelMix.Server.Dashboard;

/// <summary>One budget of one key as the dashboard shows it (the key's name and public id, never the key).</summary>
internal sealed record DashboardBudget(string KeyName, string KeyId, string Window, decimal CapUsd, decimal SpentUsd, decimal ReservedUsd);
