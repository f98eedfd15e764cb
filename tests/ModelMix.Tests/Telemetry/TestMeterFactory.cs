using System.Diagnostics.Metrics;

namespace ModelMix.Tests.Telemetry;

/// <summary>
/// A meter factory whose meter a test can tell apart from every other (tests run in parallel and publish on meters of
/// the same name). The Telemetry tests still have private copies of it (OwnMeterFactory); new tests use this one.
/// </summary>
internal sealed class TestMeterFactory : IMeterFactory
{
    public Meter? Meter { get; private set; }

    public Meter Create(MeterOptions options) => Meter = new Meter(options);

    public void Dispose() => Meter?.Dispose();
}
