namespace ModelMix.Server;

/// <summary>ModelMix's own id for a client request (<c>mmx_</c> + a time-ordered UUID), returned in <c>x-modelmix-request-id</c>.</summary>
internal static class ProxyRequestId
{
    private const string Prefix = "mmx_";

    /// <summary>A new request id.</summary>
    public static string New() => string.Create(Prefix.Length + 32, ModelMix.Ledger.LedgerIds.NewGuid(DateTimeOffset.UtcNow), static (span, id) =>
    {
        Prefix.CopyTo(span);
        id.TryFormat(span[Prefix.Length..], out _, "N");
    });
}
