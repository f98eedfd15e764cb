using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ModelMix.Shadow;

/// <summary>
/// Deterministic sampling: a request is shadowed when the SHA-256 of its request id, read as a fraction in [0, 1),
/// is below the rate. The same id always gets the same answer, so a test or a replay samples the same requests.
/// </summary>
internal static class ShadowSampler
{
    /// <summary>The fraction in [0, 1) that <paramref name="requestId"/> hashes to.</summary>
    public static double Fraction(string requestId)
    {
        ArgumentNullException.ThrowIfNull(requestId);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(requestId), hash);
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>Whether <paramref name="requestId"/> is in the sampled share <paramref name="rate"/> (0 never, 1 always).</summary>
    public static bool IsSampled(string requestId, double rate) => rate > 0 && (rate >= 1 || Fraction(requestId) < rate);
}
