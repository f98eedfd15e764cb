using ModelMix.Keys;

namespace ModelMix.Tests.Keys;

/// <summary>
/// What <see cref="ApiKeySecret.TryParse"/> leaves in its <c>out</c> values when a key does not parse. Written from
/// mutation testing (docs/testing.md, keys): <c>string.Empty</c> → another string survived, listed as equivalent because
/// callers read them only on success; but the method is public, so the values are part of what it promises.
/// </summary>
public sealed class ApiKeySecretOutValueTests
{
    [Theory]
    [InlineData("")]
    [InlineData("mmx-tooshort")]
    [InlineData("mmx-AAAAAAAAAAAA!BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")]
    public void A_key_that_does_not_parse_leaves_both_parts_empty(string key)
    {
        Assert.False(ApiKeySecret.TryParse(key, out var id, out var secret));
        Assert.Equal(string.Empty, id);
        Assert.Equal(string.Empty, secret);
    }
}
