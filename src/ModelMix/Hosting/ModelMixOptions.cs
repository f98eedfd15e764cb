namespace ModelMix.Hosting;

/// <summary>
/// The <c>ModelMix</c> section as the library reads it (<c>AddModelMix</c>): where the ledger lives and which price
/// book prices it. The keys mean what they mean to the proxy (docs/configuration.md).
/// </summary>
public sealed class ModelMixOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ModelMix";

    /// <summary>The SQLite ledger file (the older name of <see cref="Store"/>, used when Store is not set).</summary>
    public string Db { get; set; } = "modelmix.db";

    /// <summary>
    /// Where the ledger lives: a SQLite file path, or a PostgreSQL database (<c>postgres://user:password@host:5432/db</c>
    /// or an Npgsql connection string). <see cref="Db"/> when unset. The password is never logged.
    /// </summary>
    public string? Store { get; set; }

    /// <summary>A price book file overlaid on the embedded defaults; the embedded book when unset.</summary>
    public string? Prices { get; set; }

    /// <summary>
    /// The most a process kill can lose: the ledger commits buffered records at least this often. When set, it overrides
    /// <c>ModelMix:Ledger:FlushInterval</c> (the proxy's key for the same thing).
    /// </summary>
    public TimeSpan? LedgerFlushInterval { get; set; }

    /// <summary>The store setting in force: <see cref="Store"/>, else <see cref="Db"/>.</summary>
    public string StoreSetting => Store is { Length: > 0 } store ? store : Db;
}
