// A routing-only consumer of the ModelMix package: the price book and the routing stages, no ledger store — so no
// database driver in its output (the store backends are the separate packages ModelMix.Sqlite and ModelMix.Postgres).
using ModelMix.Pricing;

var prices = PriceBook.Default;
Console.WriteLine(prices.TryGetEntry("claude-haiku-5-5", out var entry) ? $"priced: {entry.GetType().Name}" : "not priced");
