using System.Text;
using ModelMix.Routing;

namespace ModelMix.Tests.Routing;

/// <summary>Realistic requests, as the doors would extract them, for routing tests.</summary>
internal static class Prompts
{
    public const string TicketClassification = """
        You are a support triage assistant. Classify the customer ticket below into exactly one category:
        billing, bug, feature_request, account_access, other. Answer with the category only.

        Ticket #48213
        Subject: Charged twice for March
        Body: Hi, I upgraded to the Team plan on March 3rd and my card statement shows two charges of $49.00 on the
        same day. I only have one workspace. Can you refund the duplicate? Thanks, Priya
        """;

    public const string InvoiceExtraction = """
        Extract the following fields from the invoice text and return them as JSON matching the schema:
        vendor_name, invoice_number, invoice_date (ISO 8601), due_date (ISO 8601), currency, total_amount, line_items
        (description, quantity, unit_price).

        ACME Industrial Supply Co. — INVOICE
        Invoice No: INV-2024-00917        Date: 14 May 2024        Terms: Net 30
        Bill to: Northwind Traders, 12 Harbour Rd, Portsmouth
        2 x Hydraulic hose assembly 3/8" @ 84.50 = 169.00
        10 x Nitrile gloves (box of 100) @ 12.95 = 129.50
        1 x Freight = 35.00
        Subtotal 333.50  VAT 20% 66.70  TOTAL DUE GBP 400.20
        """;

    public const string ArchitectureReview = """
        We are splitting our monolithic order service into three services (orders, payments, fulfilment) that talk over
        Kafka, with an outbox table in each Postgres database and idempotent consumers. Please do an architecture review
        of the design below: where can we lose or duplicate an order, what happens during a partial Kafka outage, how
        should sagas compensate a failed payment, and what would you change before we start the migration?

        [design doc: 14 pages, sequence diagrams for checkout, refund, and cancellation flows follow]
        """;

    public const string ChitChat = "Hey! Long week. Any ideas for a relaxed Saturday in Lisbon if it rains?";

    public const string StepByStep = """
        A train leaves at 14:05 and travels 180 km at an average of 72 km/h, stops 12 minutes, then covers 95 km at
        95 km/h. Reason step by step and tell me when it arrives.
        """;

    /// <summary>A single-prompt request for <paramref name="text"/>, with optional extras.</summary>
    public static RoutingRequest Request(string text, string? taskLabel = null, bool structured = false, int tools = 0, long? maxTokens = 1024) =>
        RoutingRequest.ForPrompt(text, taskLabel) with { StructuredOutput = structured, ToolCount = tools, MaxTokens = maxTokens };

    /// <summary>
    /// A ~30K-token document to summarize: real questions from the shared AlpacaEval prompts, concatenated, read at
    /// test time from shared/data.
    /// </summary>
    public static string LongDocumentSummary()
    {
        var sb = new StringBuilder("Summarize the following export of customer questions for the support team lead. ");
        sb.AppendLine("Group them by theme and list the five most frequent themes with two example questions each.");
        sb.AppendLine();
        var n = 0;
        foreach (var prompt in SharedData.Read("alpacaeval2-claude.jsonl"))
        {
            sb.Append('Q').Append(++n).Append(": ").AppendLine(prompt.Prompt);
            if (sb.Length >= 105_000)
            {
                break;
            }
        }

        return sb.ToString();
    }
}
