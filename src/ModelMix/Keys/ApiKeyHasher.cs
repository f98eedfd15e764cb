using System.Security.Cryptography;
using System.Text;

namespace ModelMix.Keys;

/// <summary>
/// Hashes key secrets for storage: HMAC-SHA256 keyed with a random 16-byte salt per key. A slow password hash
/// (PBKDF2, Argon2) exists to make guessing a human-chosen password expensive; a key secret is 190 random bits, so
/// guessing it from a stolen hash is already out of reach, and a fast hash keeps the check on every request to a
/// microsecond. The salt makes equal secrets hash differently and rules out precomputed tables. Verification
/// compares with <see cref="CryptographicOperations.FixedTimeEquals"/>.
/// </summary>
public static class ApiKeyHasher
{
    /// <summary>Salt length in bytes.</summary>
    public const int SaltLength = 16;

    /// <summary>A new random salt.</summary>
    public static byte[] NewSalt() => RandomNumberGenerator.GetBytes(SaltLength);

    /// <summary>HMAC-SHA256(salt, UTF-8 secret).</summary>
    public static byte[] Hash(ReadOnlySpan<byte> salt, string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return HMACSHA256.HashData(salt, Encoding.UTF8.GetBytes(secret));
    }

    /// <summary>Whether <paramref name="secret"/> hashes to <paramref name="expectedHash"/>, in time independent of where they differ.</summary>
    public static bool Verify(ReadOnlySpan<byte> salt, ReadOnlySpan<byte> expectedHash, string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        Span<byte> actual = stackalloc byte[HMACSHA256.HashSizeInBytes];
        var written = HMACSHA256.HashData(salt, Encoding.UTF8.GetBytes(secret), actual);
        return CryptographicOperations.FixedTimeEquals(actual[..written], expectedHash);
    }
}
