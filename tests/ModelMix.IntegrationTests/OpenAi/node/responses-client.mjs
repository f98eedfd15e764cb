// Drives ModelMix's /v1/responses with the official `openai` npm client (client.responses.create) and prints one JSON
// object (NodeOpenAiClientTests asserts on it). Each call names its cell in x-modelmix-task, so the test finds its ledger
// rows. Usage: node responses-client.mjs <proxy base URL, e.g. http://127.0.0.1:5123/v1>
import OpenAI from 'openai';

const baseURL = process.argv[2];
if (!baseURL) {
  console.error('usage: node responses-client.mjs <base URL ending in /v1>');
  process.exit(2);
}

const client = new OpenAI({ baseURL, apiKey: 'client-key-for-the-proxy', maxRetries: 0 });
const task = (name) => ({ headers: { 'x-modelmix-task': name } });
const weatherTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: false,
};

const text = await client.responses.create(
  { model: 'claude-haiku-4-5', instructions: 'Be brief.', input: 'What does a model router do?' },
  task('responses/text'));

const stream = await client.responses.create(
  { model: 'claude-haiku-4-5', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Write a haiku about cost.' }] }], stream: true },
  task('responses/stream'));
const types = [];
let streamed = '';
let completed = null;
for await (const event of stream) {
  types.push(event.type);
  if (event.type === 'response.output_text.delta') streamed += event.delta;
  if (event.type === 'response.completed') completed = event.response;
}

// A two-step tool loop, as OpenAI's function-calling guide does it: the output items go back into input with the result.
const input = [{ role: 'user', content: 'Do I need a jacket in Paris today?' }];
const first = await client.responses.create({ model: 'claude-sonnet-4-5', input, tools: [weatherTool] }, task('responses/tools'));
const call = first.output.find((item) => item.type === 'function_call');
input.push(...first.output, { type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ temperature_c: 12, rain: true }) });
const second = await client.responses.create({ model: 'claude-sonnet-4-5', input, tools: [weatherTool] }, task('responses/tools'));

const structured = await client.responses.create({
  model: 'claude-haiku-4-5',
  input: 'The weather in Paris, as JSON.',
  text: {
    format: {
      type: 'json_schema', name: 'weather', strict: true,
      schema: { type: 'object', properties: { city: { type: 'string' }, temperature_c: { type: 'number' } }, required: ['city', 'temperature_c'], additionalProperties: false },
    },
  },
}, task('responses/structured'));

const routed = await client.responses.create({ model: 'auto', input: 'What does a model router do?' }, task('responses/auto'));

let error = null;
try {
  await client.responses.create({ model: 'claude-haiku-4-5', input: 'hi', previous_response_id: 'resp_earlier' }, task('responses/error'));
} catch (e) {
  error = { name: e.constructor.name, status: e.status ?? null, type: e.type ?? null, param: e.param ?? null, message: e.message, requestID: e.requestID ?? null };
}

console.log(JSON.stringify({
  text: { id: text.id, object: text.object, status: text.status, model: text.model, outputText: text.output_text, usage: text.usage, requestID: text._request_id ?? null },
  stream: { types, text: streamed, status: completed?.status ?? null, usage: completed?.usage ?? null, outputText: completed?.output?.[0]?.content?.[0]?.text ?? null },
  tools: {
    call: { name: call.name, callId: call.call_id, arguments: JSON.parse(call.arguments) },
    firstStatus: first.status,
    answer: second.output_text,
  },
  structured: JSON.parse(structured.output_text),
  auto: { status: routed.status, model: routed.model },
  error,
}));
