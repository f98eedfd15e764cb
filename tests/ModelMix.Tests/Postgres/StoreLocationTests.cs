using ModelMix.Stores;

namespace ModelMix.Tests.Postgres;

public sealed class StoreLocationTests
{
    [Fact]
    public void A_postgres_url_becomes_an_npgsql_connection_string_and_displays_without_the_password()
    {
        var location = StoreLocation.Parse("postgres://mmx:p%40ss-w0rd@db.internal:6543/modelmix?sslmode=require");

        Assert.True(location.IsPostgres);
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(location.Value);
        Assert.Equal("db.internal", builder.Host);
        Assert.Equal(6543, builder.Port);
        Assert.Equal("modelmix", builder.Database);
        Assert.Equal("mmx", builder.Username);
        Assert.Equal("p@ss-w0rd", builder.Password);
        Assert.Equal(Npgsql.SslMode.Require, builder.SslMode);
        Assert.Equal("postgres://mmx@db.internal:6543/modelmix", location.Display);
        Assert.DoesNotContain("p@ss", location.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_npgsql_connection_string_is_postgres_and_a_path_is_sqlite()
    {
        var npgsql = StoreLocation.Parse("Host=127.0.0.1;Port=5433;Database=mmx;Username=u;Password=hunter2");
        Assert.True(npgsql.IsPostgres);
        Assert.Equal("postgres://u@127.0.0.1:5433/mmx", npgsql.Display);

        var sqlite = StoreLocation.Parse("data/modelmix.db");
        Assert.False(sqlite.IsPostgres);
        Assert.Equal(Path.GetFullPath("data/modelmix.db"), sqlite.Value);
    }

    [Theory]
    [InlineData("postgres://u:hunter2@host/")]
    [InlineData("Host=h;Password=hunter2;Bogus Key=1")]
    public void A_malformed_postgres_store_is_refused_without_showing_the_password(string text)
    {
        var error = Assert.Throws<FormatException>(() => StoreLocation.Parse(text));

        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }
}
