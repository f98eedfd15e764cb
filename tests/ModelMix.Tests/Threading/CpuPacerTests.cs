using Microsoft.Extensions.Time.Testing;
using ModelMix.Threading;

namespace ModelMix.Tests.Threading;

/// <summary><see cref="CpuPacer"/> yields once per slice of work, not per unit and not never.</summary>
public sealed class CpuPacerTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Work_shorter_than_a_slice_does_not_yield()
    {
        var yields = 0;
        var pacer = new CpuPacer(_time, TimeSpan.FromMicroseconds(250), () => yields++);

        for (var i = 0; i < 10; i++)
        {
            _time.Advance(TimeSpan.FromMicroseconds(20));
            pacer.Tick();
        }

        Assert.Equal(0, yields);
        Assert.Equal(0, pacer.Yields);
    }

    [Fact]
    public void Each_used_up_slice_yields_once_and_starts_the_next()
    {
        var yields = 0;
        var pacer = new CpuPacer(_time, TimeSpan.FromMicroseconds(250), () => yields++);

        // 100 units of 30 µs: 3 ms of work. A yield after the 9th unit (270 µs), then every 9 units after it.
        for (var i = 0; i < 100; i++)
        {
            _time.Advance(TimeSpan.FromMicroseconds(30));
            pacer.Tick();
            if (i == 8)
            {
                Assert.Equal(1, yields);
            }
        }

        Assert.Equal(11, yields);
        Assert.Equal(yields, pacer.Yields);
    }

    [Fact]
    public void A_unit_longer_than_a_slice_yields_once_after_it()
    {
        var yields = 0;
        var pacer = new CpuPacer(_time, TimeSpan.FromMicroseconds(250), () => yields++);

        _time.Advance(TimeSpan.FromMilliseconds(5));
        pacer.Tick();
        pacer.Tick();

        Assert.Equal(1, yields);
    }

    [Fact]
    public void The_default_pacer_yields_the_processor_on_the_system_clock()
    {
        var pacer = CpuPacer.StartDefault();
        Assert.Equal(CpuPacer.DefaultSlice, pacer.Slice);

        // Real work on the real clock: a busy loop long enough to use up a few slices yields along the way.
        var until = TimeProvider.System.GetTimestamp() + (long)(TimeProvider.System.TimestampFrequency * 0.005);
        while (TimeProvider.System.GetTimestamp() < until)
        {
            pacer.Tick();
        }

        Assert.InRange(pacer.Yields, 1, 20);
    }

    [Fact]
    public void A_slice_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CpuPacer(_time, TimeSpan.Zero));
        Assert.Throws<ArgumentNullException>(() => new CpuPacer(null!, CpuPacer.DefaultSlice));
    }
}
