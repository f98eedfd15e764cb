namespace ModelMix.Pricing;

/// <summary>A price book entry with its periods compiled for the hot path.</summary>
internal sealed class CompiledModel
{
    public CompiledModel(ModelPriceEntry entry, decimal batchMultiplier)
    {
        Entry = entry;
        Periods = new CompiledPeriod[entry.Periods.Count];
        for (var i = 0; i < Periods.Length; i++)
        {
            Periods[i] = new CompiledPeriod(entry.Periods[i], batchMultiplier);
        }
    }

    public ModelPriceEntry Entry { get; }

    public CompiledPeriod[] Periods { get; }

    /// <summary>The period in force at <paramref name="utcTicks"/>, or null.</summary>
    public CompiledPeriod? Find(long utcTicks)
    {
        var periods = Periods;
        for (var i = 0; i < periods.Length; i++)
        {
            var period = periods[i];
            if (utcTicks >= period.FromTicks && utcTicks < period.ToTicks)
            {
                return period;
            }
        }

        return null;
    }
}
