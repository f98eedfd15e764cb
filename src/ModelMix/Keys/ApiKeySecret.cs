using System.Security.Cryptography;

namespace ModelMix.Keys;

/// <summary>
/// The format of a virtual API key: <c>mmx-</c>, a 12-character public id (base62) and a 32-character secret
/// (base62, about 190 bits from <see cref="RandomNumberGenerator"/>). The id is not secret: it is stored in clear,
/// shown by <c>modelmix keys list</c>, written to the ledger, and used to find the key's row without scanning.
/// </summary>
public static class ApiKeySecret
{
    /// <summary>Every virtual key starts with this.</summary>
    public const string Prefix = "mmx-";

    /// <summary>Length of the public id part.</summary>
    public const int IdLength = 12;

    /// <summary>Length of the secret part (32 base62 characters ≈ 190.5 bits).</summary>
    public const int SecretLength = 32;

    /// <summary>The whole key's length.</summary>
    public const int KeyLength = 4 + IdLength + SecretLength;

    private const string Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private static readonly System.Buffers.SearchValues<char> Base62Chars = System.Buffers.SearchValues.Create(Base62);

    /// <summary>Makes a new key from the operating system's CSPRNG (uniform over base62: no modulo bias).</summary>
    public static (string Id, string Secret, string Key) Generate()
    {
        var id = RandomNumberGenerator.GetString(Base62, IdLength);
        var secret = RandomNumberGenerator.GetString(Base62, SecretLength);
        return (id, secret, Prefix + id + secret);
    }

    /// <summary>Splits a presented key into its id and secret; false when it cannot be a ModelMix key.</summary>
    public static bool TryParse(ReadOnlySpan<char> key, out string id, out string secret)
    {
        id = string.Empty;
        secret = string.Empty;
        if (key.Length != KeyLength || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var body = key[Prefix.Length..];
        if (body.ContainsAnyExcept(Base62Chars))
        {
            return false;
        }

        id = new string(body[..IdLength]);
        secret = new string(body[IdLength..]);
        return true;
    }
}
