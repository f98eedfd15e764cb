using System.Globalization;

namespace ModelMix.Stores;

/// <summary>
/// How many connections a PostgreSQL server lets ModelMix's role open, against how many a replica's pool may open
/// (<see cref="StoreLocation.ReadConnectionCapacityAsync"/>). Every replica's pool can grow to <see cref="PoolSize"/>
/// (Npgsql's <c>Maximum Pool Size</c>, default 100), so N replicas need N × that; past <see cref="Available"/> the
/// server refuses connections (SQLSTATE 53300) under load, and those requests wait and may be answered 503.
/// </summary>
public sealed record StoreConnectionCapacity
{
    /// <summary>The server's <c>max_connections</c>.</summary>
    public required int MaxConnections { get; init; }

    /// <summary>Slots only superusers (<c>superuser_reserved_connections</c>) or privileged roles (<c>reserved_connections</c>, PostgreSQL 16+) may use.</summary>
    public required int ReservedConnections { get; init; }

    /// <summary>The role's <c>CONNECTION LIMIT</c>, or null when it has none (or is a superuser, which it does not bind).</summary>
    public int? RoleLimit { get; init; }

    /// <summary>The database's <c>CONNECTION LIMIT</c>, or null when it has none (or the role is a superuser, which it does not bind).</summary>
    public int? DatabaseLimit { get; init; }

    /// <summary>Whether the role is a superuser (then the reserved slots are its too).</summary>
    public bool Superuser { get; init; }

    /// <summary>The most connections one replica's pool opens: the connection string's <c>Maximum Pool Size</c>.</summary>
    public required int PoolSize { get; init; }

    /// <summary>How many connections the role may hold at once: the smallest of the limits above.</summary>
    public int Available => Math.Min(ServerSlots, Math.Min(RoleLimit ?? int.MaxValue, DatabaseLimit ?? int.MaxValue));

    /// <summary>The limit that gives <see cref="Available"/>, in words (for the start-up warning).</summary>
    public string BindingLimit =>
        RoleLimit is { } role && role == Available ? $"the role's CONNECTION LIMIT of {role.ToString(CultureInfo.InvariantCulture)}"
        : DatabaseLimit is { } database && database == Available ? $"the database's CONNECTION LIMIT of {database.ToString(CultureInfo.InvariantCulture)}"
        : Superuser || ReservedConnections == 0 ? $"max_connections = {MaxConnections.ToString(CultureInfo.InvariantCulture)}"
        : $"max_connections = {MaxConnections.ToString(CultureInfo.InvariantCulture)} less {ReservedConnections.ToString(CultureInfo.InvariantCulture)} reserved";

    private int ServerSlots => Superuser ? MaxConnections : Math.Max(0, MaxConnections - ReservedConnections);

    /// <summary>The connections <paramref name="replicas"/> replicas may open together: replicas × <see cref="PoolSize"/>.</summary>
    public long Needed(int replicas) => (long)PoolSize * Math.Max(1, replicas);

    /// <summary>Whether <paramref name="replicas"/> full pools fit in <see cref="Available"/> (other clients of the server not counted).</summary>
    public bool Fits(int replicas) => Needed(replicas) <= Available;

    /// <summary>The largest <c>Maximum Pool Size</c> at which <paramref name="replicas"/> replicas fit (at least 1).</summary>
    public int PoolSizeFor(int replicas) => Math.Max(1, Available / Math.Max(1, replicas));
}
