// Shared by the conformance scripts: runs one cell (client × capability), checks what the client saw, and prints every
// result as one JSON line for ClientConformanceTests, which then checks the ledger row(s) of each cell by its task label
// (sent as x-modelmix-task on every call of the cell).

/** The default non-streamed answer of FakeAnthropic (shared/fixtures/anthropic/messages/response-text.json). */
export const TEXT = 'A model router inspects each request and sends it to the cheapest model that can handle it well, escalating to a stronger model only when needed.';
/** The default streamed answer (streaming/text.sse). */
export const STREAM_TEXT = 'Pennies per thousand\u2014\nsmall models carry the load,\nbig ones wait their turn.';
/** What every structured-output cell must get back (Clients/Fixtures/structured.*, ClientReplies.cs). */
export const STRUCTURED = { city: 'Paris', temperature_c: 18 };
/** The JSON Schema of STRUCTURED. */
export const STRUCTURED_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, temperature_c: { type: 'number' } },
  required: ['city', 'temperature_c'],
  additionalProperties: false,
};
/** The tool of the tool-loop cells (FakeAnthropic's tool-use fixtures call it with {city: "Paris", unit: "celsius"}). */
export const WEATHER = {
  name: 'get_weather',
  description: 'The current weather in a city',
  schema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
};
export const MODEL = 'claude-haiku-4-5';
export const KEY = 'client-key-for-the-proxy';

export const baseUrl = process.argv[2]?.replace(/\/$/, '');
if (!baseUrl) {
  console.error('usage: node <script> <proxy base URL, e.g. http://127.0.0.1:5123>');
  process.exit(2);
}

const results = [];

/** The weather tool's implementation: records the call so the cell can check the model's arguments reached it. */
export function weather(calls) {
  return async (input) => {
    calls.push(input);
    return JSON.stringify({ temperature_c: 12, rain: true });
  };
}

export function expect(condition, message) {
  if (!condition) throw new Error(message);
}

export function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/**
 * Runs one cell. `run(task)` makes the client's calls with x-modelmix-task: task and returns what the test checks in the
 * ledger: { calls: upstream calls made, stream: whether they streamed, model: the model the client asked for }.
 */
export async function cell(client, capability, run) {
  const task = `${client}/${capability}`;
  const started = Date.now();
  try {
    const outcome = await run(task);
    results.push({ client, capability, task, ok: true, ms: Date.now() - started, ...outcome });
  } catch (error) {
    results.push({ client, capability, task, ok: false, ms: Date.now() - started, error: String(error?.stack ?? error).slice(0, 3000) });
  }
}

/** Prints the results (the last line of stdout is what the test reads). */
export function report() {
  console.log(JSON.stringify(results));
}
