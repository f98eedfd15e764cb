using System.Globalization;
using System.Net;
using System.Text;
using ModelMix.Audit;

namespace ModelMix.Server.Dashboard;

/// <summary>Renders the dashboard: HTML with inline CSS and SVG charts drawn here; every value from the ledger is HTML-encoded.</summary>
internal static class DashboardPage
{
    private static readonly string[] Palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f", "#bab0ac", "#ff9da7"];

    public static string Render(AuditReport r, IReadOnlyList<DashboardBudget> budgets, DateTimeOffset from, DateTimeOffset now, int days, string? rawNote = null)
    {
        var html = new StringBuilder(32 * 1024);
        html.Append("""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>ModelMix dashboard</title>
            <style>
            body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1f2328}
            header{background:#1f2937;color:#fff;padding:12px 24px;display:flex;align-items:baseline;gap:16px}
            header h1{font-size:18px;margin:0} header span{color:#cbd5e1}
            main{padding:16px 24px;display:grid;grid-template-columns:repeat(12,1fr);gap:16px;max-width:1400px}
            .card{background:#fff;border-radius:8px;box-shadow:0 1px 2px rgba(0,0,0,.08);padding:14px 16px;min-width:0}
            .card h2{font-size:13px;text-transform:uppercase;letter-spacing:.04em;color:#57606a;margin:0 0 10px}
            .kpi{grid-column:span 2} .kpi b{display:block;font-size:24px;font-weight:600} .kpi small{color:#57606a}
            .wide{grid-column:span 8} .side{grid-column:span 4} .full{grid-column:span 12} .half{grid-column:span 6}
            table{border-collapse:collapse;width:100%;font-size:13px} th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaecef;vertical-align:top}
            th{color:#57606a;font-weight:600} td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
            .legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:6px} .sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
            .bar{background:#eaecef;border-radius:4px;height:10px;overflow:hidden} .bar i{display:block;height:100%;background:#4e79a7}
            .over i{background:#e15759} .flag{color:#9a3412} .muted{color:#57606a} svg text{font:11px system-ui,sans-serif;fill:#1f2328}
            @media (max-width:1100px){.kpi{grid-column:span 4}.wide,.side,.half{grid-column:span 12}}
            </style></head><body>
            """);
        html.Append("<header><h1>ModelMix</h1><span>")
            .Append(E($"last {days} days · {from:yyyy-MM-dd} → {now:yyyy-MM-dd HH:mm} UTC · {r.Calls:N0} calls"))
            .Append("</span></header><main>");

        var top = r.Counterfactuals.FirstOrDefault(c => c.Name == "all-on-top");
        Kpi(html, "spend", "Spend", Usd(r.TotalUsd), r.UnpricedCalls > 0 ? $"{r.UnpricedCalls} unpriced calls" : $"~{Usd(r.TotalUsd * r.MonthlyFactor)} / month");
        Kpi(html, "routing-saved", "Saved by routing", top is null ? "—" : Usd(top.SavedUsd), top is null ? "" : $"vs all on {top.Model}");
        Kpi(html, "cache-saved", "Saved by caching", Usd(r.Cache.NetSavingsUsd), $"{Pct(r.Cache.TokenHitRate)} of prompt tokens from cache");
        Kpi(html, "batch-saved", "Saved by batching", Usd(r.Batch.SavingsUsd), $"{Pct(r.Batch.CallShare)} of calls batched");
        Kpi(html, "escalations", "Escalations", Pct(r.Escalations.Rate), $"{r.Escalations.EscalatedRequests} requests, {Usd(r.Escalations.EscalationCostUsd)}");
        Kpi(html, "calls", "Requests", r.Escalations.Requests.ToString("N0", CultureInfo.InvariantCulture), $"{r.Calls:N0} attempts");

        if (rawNote is not null)
        {
            html.Append("<p class=\"muted full raw-window\">").Append(E(rawNote)).Append("</p>"); // which raw rows the raw-row figures cover
        }

        var models = r.ByModel.Select(b => b.Name).ToList();
        html.Append("<section class=\"card wide\"><h2>Spend per day by model</h2>");
        SpendChart(html, r, models, from, days);
        Legend(html, models.Select((m, i) => (m, Color(i), Usd(r.ByModel[i].CostUsd))));
        html.Append("</section>");

        html.Append("<section class=\"card side\"><h2>Model mix (share of calls)</h2>");
        MixChart(html, r);
        html.Append("<table><tr><th>tier</th><th class=n>calls</th><th class=n>of calls</th><th class=n>cost</th><th class=n>of cost</th></tr>");
        foreach (var t in r.Tiers)
        {
            html.Append("<tr><td>").Append(E(t.Tier)).Append("</td><td class=n>").Append(t.Calls.ToString("N0", CultureInfo.InvariantCulture))
                .Append("</td><td class=n>").Append(Pct(t.CallShare)).Append("</td><td class=n>").Append(E(Usd(t.CostUsd)))
                .Append("</td><td class=n>").Append(Pct(t.CostShare)).Append("</td></tr>");
        }

        html.Append("</table></section>");

        html.Append("<section class=\"card half\"><h2>Savings</h2>");
        SavingsChart(html, [
            ("routing", top?.SavedUsd ?? 0m, top is null ? "no routing data" : $"vs all on {top.Model}: {Usd(top.CostUsd)}"),
            ("caching", r.Cache.NetSavingsUsd, $"reads saved {Usd(r.Cache.ReadSavingsUsd)}, writes cost {Usd(r.Cache.WritePremiumUsd)} extra"),
            ("batching", r.Batch.SavingsUsd, $"{r.Batch.Calls} batch calls"),
        ]);
        html.Append("<p class=muted>Escalations: ").Append(r.Escalations.Escalations).Append(" attempts costing ").Append(E(Usd(r.Escalations.EscalationCostUsd)))
            .Append("; retries: ").Append(r.Escalations.Retries).Append(" costing ").Append(E(Usd(r.Escalations.RetryCostUsd)))
            .Append("; routing calls: ").Append(r.Escalations.RoutingCalls).Append(" costing ").Append(E(Usd(r.Escalations.RoutingCallCostUsd))).Append(".</p>");
        if (r.Flags.Count > 0)
        {
            html.Append("<h2>Flags</h2><ul id=\"flags\">");
            foreach (var flag in r.Flags)
            {
                html.Append("<li class=flag>").Append(E(flag.Message)).Append("</li>");
            }

            html.Append("</ul>");
        }

        html.Append("</section>");

        html.Append("<section class=\"card half\" id=\"budgets\"><h2>Budgets per key</h2>");
        if (budgets.Count == 0)
        {
            html.Append("<p class=muted>No key has a budget.</p>");
        }
        else
        {
            html.Append("<table><tr><th>key</th><th>window</th><th style=\"width:40%\">used</th><th class=n>spent / cap</th></tr>");
            foreach (var b in budgets)
            {
                var used = b.CapUsd == 0m ? 1m : Math.Min(1m, (b.SpentUsd + b.ReservedUsd) / b.CapUsd);
                html.Append("<tr><td>").Append(E(b.KeyName)).Append(" <span class=muted>").Append(E(b.KeyId)).Append("</span></td><td>").Append(E(b.Window))
                    .Append("</td><td><div class=\"bar").Append(used >= 0.9m ? " over" : "").Append("\"><i style=\"width:")
                    .Append((used * 100m).ToString("0.#", CultureInfo.InvariantCulture)).Append("%\"></i></div></td><td class=n>")
                    .Append(E(Usd(b.SpentUsd))).Append(" / ").Append(E(Usd(b.CapUsd))).Append("</td></tr>");
            }

            html.Append("</table>");
        }

        html.Append("<h2 style=\"margin-top:14px\">Spend by key and task</h2><table><tr><th>key id</th><th class=n>calls</th><th class=n>cost</th><th>task</th><th class=n>calls</th><th class=n>cost</th></tr>");
        for (var i = 0; i < Math.Max(Math.Min(r.ByKey.Count, 8), Math.Min(r.ByTask.Count, 8)); i++)
        {
            html.Append("<tr>");
            BucketCells(html, i < r.ByKey.Count ? r.ByKey[i] : null);
            BucketCells(html, i < r.ByTask.Count ? r.ByTask[i] : null);
            html.Append("</tr>");
        }

        html.Append("</table>");
        if (r.OverrunByKey.Count > 0)
        {
            // Billed by the upstream beyond what the key's cap let it be charged (docs/keys-and-budgets.md, "Overshoot"):
            // in the key's cost above, but charged to no key's budget.
            html.Append("<table id=\"overrun\"><tr><th>key id</th><th class=n>charged to no key: overrun beyond cap</th></tr>");
            foreach (var o in r.OverrunByKey)
            {
                html.Append("<tr><td>").Append(E(o.Key)).Append("</td><td class=n>").Append(E(Usd(o.OverrunUsd))).Append("</td></tr>");
            }

            html.Append("</table>");
        }

        html.Append("</section>");

        if (r.ByModelAndEffort.Count > 0)
        {
            html.Append("<section class=\"card full\"><h2>Spend by model and effort</h2><table id=\"effort\"><tr><th>model</th><th>effort</th><th class=n>calls</th><th class=n>prompt tokens</th><th class=n>output tokens</th><th class=n>cost</th><th class=n>default effort</th></tr>");
            foreach (var b in r.ByModelAndEffort)
            {
                html.Append("<tr><td>").Append(E(b.Model)).Append("</td><td>").Append(E(b.Effort)).Append("</td><td class=n>").Append(b.Calls.ToString("N0", CultureInfo.InvariantCulture))
                    .Append("</td><td class=n>").Append(b.PromptTokens.ToString("N0", CultureInfo.InvariantCulture)).Append("</td><td class=n>").Append(b.OutputTokens.ToString("N0", CultureInfo.InvariantCulture))
                    .Append("</td><td class=n>").Append(E(Usd(b.CostUsd))).Append("</td><td class=n>").Append(Pct(b.DefaultEffortShare)).Append("</td></tr>");
            }

            html.Append("</table></section>");
        }

        html.Append("<section class=\"card full\"><h2>Recent requests</h2><table id=\"recent\"><tr><th>time (UTC)</th><th>task</th><th>asked</th><th>model</th><th>policy</th><th>reason</th><th class=n>attempt</th><th>status</th><th class=n>cost</th></tr>");
        foreach (var x in r.Recent)
        {
            html.Append("<tr><td>").Append(E(x.Timestamp.ToString("MM-dd HH:mm:ss", CultureInfo.InvariantCulture))).Append("</td><td>").Append(E(x.TaskLabel ?? ""))
                .Append("</td><td>").Append(E(x.RequestedModel)).Append("</td><td>").Append(E(x.Model))
                .Append(x.EscalatedFrom is { } esc ? "<br><span class=muted>from " + E(esc) + "</span>" : "")
                .Append("</td><td>").Append(E(x.Policy ?? "")).Append("</td><td>").Append(E(x.Reason ?? "")).Append("</td><td class=n>").Append(x.Attempt)
                .Append("</td><td>").Append(E(x.Status)).Append("</td><td class=n>").Append(E(x.CostUsd is { } c ? Usd(c) : "unpriced")).Append("</td></tr>");
        }

        html.Append("</table></section></main></body></html>");
        return html.ToString();
    }

    private static void Kpi(StringBuilder html, string id, string title, string value, string note) =>
        html.Append("<section class=\"card kpi\" id=\"kpi-").Append(id).Append("\"><h2>").Append(E(title)).Append("</h2><b>").Append(E(value))
            .Append("</b><small>").Append(E(note)).Append("</small></section>");

    private static void BucketCells(StringBuilder html, AuditBucket? b)
    {
        if (b is null)
        {
            html.Append("<td></td><td></td><td></td>");
            return;
        }

        html.Append("<td>").Append(E(b.Name)).Append("</td><td class=n>").Append(b.Calls.ToString("N0", CultureInfo.InvariantCulture))
            .Append("</td><td class=n>").Append(E(Usd(b.CostUsd))).Append("</td>");
    }

    /// <summary>Stacked bars: one per day of the range, one segment per model, the day's exact total above.</summary>
    private static void SpendChart(StringBuilder html, AuditReport r, List<string> models, DateTimeOffset from, int days)
    {
        const int Width = 820, Height = 260, Left = 70, Bottom = 36, TopPad = 22;
        var plotHeight = Height - Bottom - TopPad;
        var dayNames = Enumerable.Range(0, days).Select(i => from.AddDays(i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)).ToList();
        var totals = dayNames.Select(d => r.ByDay.FirstOrDefault(b => b.Name == d)?.CostUsd ?? 0m).ToList();
        var max = Math.Max(totals.DefaultIfEmpty(0m).Max(), 0.000001m);
        var slot = (double)(Width - Left - 8) / days;
        var barWidth = Math.Max(2, slot * 0.7);
        html.Append(CultureInfo.InvariantCulture, $"<svg id=\"spend-chart\" viewBox=\"0 0 {Width} {Height}\" width=\"100%\" role=\"img\" aria-label=\"Spend per day by model\">");
        for (var g = 0; g <= 4; g++)
        {
            var y = TopPad + (plotHeight * (4 - g) / 4.0);
            html.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" x2=\"{Width - 8}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\" stroke=\"#eaecef\"/>")
                .Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{E(Axis(max * g / 4m))}</text>");
        }

        for (var i = 0; i < days; i++)
        {
            var x = Left + (slot * i) + ((slot - barWidth) / 2);
            var bottom = (double)(TopPad + plotHeight);
            if (r.ByDayAndModel.TryGetValue(dayNames[i], out var perModel))
            {
                for (var m = 0; m < models.Count; m++)
                {
                    var value = perModel.GetValueOrDefault(models[m]);
                    if (value <= 0m)
                    {
                        continue;
                    }

                    var h = (double)(value / max) * plotHeight;
                    bottom -= h;
                    html.Append(CultureInfo.InvariantCulture, $"<rect class=\"seg\" x=\"{x:0.##}\" y=\"{bottom:0.##}\" width=\"{barWidth:0.##}\" height=\"{h:0.##}\" fill=\"{Color(m)}\" data-day=\"{dayNames[i]}\" data-model=\"{E(models[m])}\" data-usd=\"{Plain(value)}\"><title>{E($"{dayNames[i]} {models[m]}: {Usd(value)}")}</title></rect>");
                }
            }

            if (totals[i] > 0m)
            {
                html.Append(CultureInfo.InvariantCulture, $"<text class=\"bar-total\" x=\"{x + (barWidth / 2):0.##}\" y=\"{bottom - 5:0.##}\" text-anchor=\"middle\" data-day=\"{dayNames[i]}\">{E(Usd(totals[i]))}</text>");
            }

            if (days <= 16 || i % (days / 8) == 0)
            {
                html.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + (barWidth / 2):0.##}\" y=\"{Height - 14}\" text-anchor=\"middle\">{dayNames[i][5..]}</text>");
            }
        }

        html.Append("</svg>");
    }

    /// <summary>One 100% bar of the tiers' share of calls, each segment labelled with its percentage.</summary>
    private static void MixChart(StringBuilder html, AuditReport r)
    {
        const int Width = 400, Height = 44;
        html.Append(CultureInfo.InvariantCulture, $"<svg id=\"mix-chart\" viewBox=\"0 0 {Width} {Height}\" width=\"100%\" role=\"img\" aria-label=\"Model mix\">");
        var x = 0.0;
        for (var i = 0; i < r.Tiers.Count; i++)
        {
            var t = r.Tiers[i];
            var w = (double)t.CallShare * Width;
            html.Append(CultureInfo.InvariantCulture, $"<rect class=\"tier\" x=\"{x:0.##}\" y=\"0\" width=\"{w:0.##}\" height=\"26\" fill=\"{TierColor(t.Tier, i)}\" data-tier=\"{E(t.Tier)}\" data-share=\"{Plain(t.CallShare)}\"><title>{E($"{t.Tier}: {Pct(t.CallShare)} of calls")}</title></rect>");
            if (w > 34)
            {
                html.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + (w / 2):0.##}\" y=\"17\" text-anchor=\"middle\" style=\"fill:#fff\">{E(Pct(t.CallShare))}</text>");
            }

            html.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 2:0.##}\" y=\"40\">{E(t.Tier)}</text>");
            x += w;
        }

        html.Append("</svg>");
    }

    /// <summary>Horizontal bars, one per source of savings, labelled with the exact amount.</summary>
    private static void SavingsChart(StringBuilder html, IReadOnlyList<(string Name, decimal Usd, string Note)> rows)
    {
        const int Width = 560, Row = 34, Label = 80, ValueRoom = 90;
        var max = Math.Max(rows.Max(x => Math.Abs(x.Usd)), 0.000001m);
        html.Append(CultureInfo.InvariantCulture, $"<svg id=\"savings-chart\" viewBox=\"0 0 {Width} {rows.Count * Row}\" width=\"100%\" role=\"img\" aria-label=\"Savings\">");
        for (var i = 0; i < rows.Count; i++)
        {
            var (name, usd, note) = rows[i];
            var w = Math.Max(0, (double)(usd / max) * (Width - Label - ValueRoom));
            var y = i * Row;
            html.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"{y + 15}\">{E(name)}</text>")
                .Append(CultureInfo.InvariantCulture, $"<rect class=\"saving\" x=\"{Label}\" y=\"{y + 4}\" width=\"{w:0.##}\" height=\"16\" fill=\"{(usd >= 0 ? "#59a14f" : "#e15759")}\" data-name=\"{E(name)}\" data-usd=\"{Plain(usd)}\"><title>{E(note)}</title></rect>")
                .Append(CultureInfo.InvariantCulture, $"<text class=\"saving-label\" x=\"{Label + w + 6:0.##}\" y=\"{y + 16}\">{E(Usd(usd))}</text>")
                .Append(CultureInfo.InvariantCulture, $"<text x=\"{Label}\" y=\"{y + 31}\" style=\"fill:#57606a;font-size:10px\">{E(note)}</text>");
        }

        html.Append("</svg>");
    }

    private static void Legend(StringBuilder html, IEnumerable<(string Name, string Color, string Value)> items)
    {
        html.Append("<div class=legend>");
        foreach (var (name, color, value) in items)
        {
            html.Append("<span><i class=sw style=\"background:").Append(color).Append("\"></i>").Append(E(name)).Append(" <b>").Append(E(value)).Append("</b></span>");
        }

        html.Append("</div>");
    }

    private static string Color(int index) => Palette[index % Palette.Length];

    private static string TierColor(string tier, int index) => tier switch
    {
        "haiku" => "#59a14f",
        "sonnet" => "#4e79a7",
        "opus" => "#b07aa1",
        _ => Palette[(index + 5) % Palette.Length],
    };

    private static string E(string value) => WebUtility.HtmlEncode(value);

    /// <summary>An exact amount as plain invariant text with no trailing zeros (for data attributes tests and scripts read).</summary>
    private static string Plain(decimal value) => (value / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);

    /// <summary>Dollars: cents for large sums, more digits for small ones, never rounded to zero (as the CLI prints them).</summary>
    internal static string Usd(decimal value)
    {
        var magnitude = Math.Abs(value);
        var format = magnitude >= 100m ? "N2" : magnitude >= 1m ? "N4" : "0.######";
        var text = magnitude.ToString(format, CultureInfo.InvariantCulture);
        if (magnitude != 0m && decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture) == 0m)
        {
            text = Plain(magnitude);
        }

        return (value < 0m ? "-$" : "$") + text;
    }

    /// <summary>An axis tick: three significant digits are enough to read a chart (the bars carry the exact totals).</summary>
    private static string Axis(decimal value) =>
        "$" + (value == 0m ? "0" : ((double)value).ToString(value >= 1m ? "#,0.##" : "0.###" + new string('#', Math.Max(0, (int)-Math.Floor(Math.Log10((double)value)))), CultureInfo.InvariantCulture));

    private static string Pct(decimal fraction) => (fraction * 100m).ToString("0.#", CultureInfo.InvariantCulture) + "%";
}
