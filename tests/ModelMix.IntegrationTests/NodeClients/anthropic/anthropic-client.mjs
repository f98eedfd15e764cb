// Drives the ModelMix proxy with the official TypeScript SDK and prints one JSON object for the test to check.
// Usage: node anthropic-client.mjs <proxy base URL>
import Anthropic from "@anthropic-ai/sdk";

const baseURL = process.argv[2];
const client = new Anthropic({ baseURL, apiKey: "client-key-for-the-proxy", maxRetries: 0 });
const result = {};

const message = await client.messages.create({
  model: "claude-haiku-4-5",
  max_tokens: 128,
  messages: [{ role: "user", content: "Which tier should tag this ticket?" }],
});
result.create = { model: message.model, text: message.content.map((b) => b.text ?? "").join(""), usage: message.usage };

const stream = client.messages.stream({
  model: "auto",
  max_tokens: 128,
  messages: [{ role: "user", content: "Classify this ticket: the invoice total is wrong." }],
});
const events = [];
stream.on("streamEvent", (event) => events.push(event.type));
const final = await stream.finalMessage();
result.stream = { events, model: final.model, text: final.content.map((b) => b.text ?? "").join(""), usage: final.usage };

const tools = await client.messages.create({
  model: "claude-sonnet-4-5",
  max_tokens: 256,
  tools: [{ name: "get_weather", description: "Current weather", input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }],
  messages: [{ role: "user", content: "Is it warm enough in Paris for the linen jacket?" }],
});
const call = tools.content.find((b) => b.type === "tool_use");
result.tools = { stop_reason: tools.stop_reason, tool: call?.name ?? null, input: call?.input ?? null };

try {
  await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 16, messages: "not a list" });
  result.badRequest = { error: null };
} catch (error) {
  result.badRequest = { status: error.status, type: error.error?.error?.type ?? null };
}

process.stdout.write(JSON.stringify(result) + "\n");
