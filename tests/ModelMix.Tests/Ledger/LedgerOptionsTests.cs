using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelMix.Ledger;

namespace ModelMix.Tests.Ledger;

public sealed class LedgerOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_as_documented()
    {
        var options = new LedgerOptions();

        Assert.True(new LedgerOptionsValidator().Validate(Options.DefaultName, options).Succeeded);
        Assert.Equal(10_000, options.Capacity);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.FlushInterval);
        Assert.Equal(1_000, options.MaxBatchSize);
    }

    [Fact]
    public void Validate_names_every_invalid_option()
    {
        var options = new LedgerOptions { Capacity = 0, FlushInterval = TimeSpan.Zero, MaxBatchSize = -1 };

        var error = Assert.Throws<OptionsValidationException>(() => LedgerOptionsValidator.ThrowIfInvalid(options)); // what BufferedLedger runs on options built in code

        Assert.Contains("ModelMix:Ledger:Capacity", error.Message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:Ledger:FlushInterval", error.Message, StringComparison.Ordinal);
        Assert.Contains("ModelMix:Ledger:MaxBatchSize", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_validator_fails_a_bad_retry_configuration()
    {
        var options = new LedgerOptions { RetryBaseDelay = TimeSpan.FromSeconds(10), RetryMaxDelay = TimeSpan.FromSeconds(1) };

        var result = new LedgerOptionsValidator().Validate(Options.DefaultName, options);

        Assert.True(result.Failed);
        Assert.Contains("RetryMaxDelay", result.FailureMessage, StringComparison.Ordinal);
        Assert.True(new LedgerOptionsValidator().Validate(null, new LedgerOptions()).Succeeded);
    }

    [Fact]
    public async Task The_ledger_refuses_invalid_options()
    {
        await using var store = new SqliteLedgerStore(Path.Combine(Path.GetTempPath(), "never-opened.db"));

        Assert.Throws<OptionsValidationException>(() => new BufferedLedger(
            store, new LedgerOptions { Capacity = 0 }, TimeProvider.System, NullLogger<BufferedLedger>.Instance));
    }
}
