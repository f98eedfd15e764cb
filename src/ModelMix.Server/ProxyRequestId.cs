namespace ModelMix.Server;

/// <summary>ModelMix's own id for a client request (<c>mmx_</c> + a time-ordered UUID), returned in <c>x-modelmix-request-id</c>.</summary>
internal static class ProxyRequestId
{
    /// <summary>A new request id.</summary>
    public static string New() => "mmx_" + Guid.CreateVersion7().ToString("N");
}
