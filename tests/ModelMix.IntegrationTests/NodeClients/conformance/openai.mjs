// The official `openai` npm client against ModelMix's /v1/chat/completions and /v1/responses.
// Usage: node openai.mjs <proxy base URL>
import OpenAI from 'openai';
import { baseUrl, cell, expect, expectEqual, report, KEY, MODEL, STREAM_TEXT, STRUCTURED, STRUCTURED_SCHEMA, TEXT, WEATHER } from './cells.mjs';

const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: KEY, maxRetries: 0 });
const task = (t) => ({ headers: { 'x-modelmix-task': t } });

// ---- Chat Completions ----
const chat = 'openai (chat completions)';
const chatTool = { type: 'function', function: { name: WEATHER.name, description: WEATHER.description, parameters: WEATHER.schema } };

await cell(chat, 'text', async (t) => {
  const completion = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'What does a model router do?' }] }, task(t));
  expectEqual(completion.choices[0].message.content, TEXT, 'content');
  return { calls: 1, stream: false, model: MODEL };
});

await cell(chat, 'stream', async (t) => {
  const stream = await client.chat.completions.create({ model: MODEL, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Write a haiku about cost.' }] }, task(t));
  let streamed = '';
  let usage = null;
  for await (const chunk of stream) {
    streamed += chunk.choices[0]?.delta?.content ?? '';
    usage ??= chunk.usage ?? null;
  }
  expectEqual(streamed, STREAM_TEXT, 'streamed text');
  expect(usage?.completion_tokens > 0, 'usage chunk');
  return { calls: 1, stream: true, model: MODEL };
});

await cell(chat, 'auto', async (t) => {
  const completion = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'What does a model router do?' }] }, task(t));
  expectEqual(completion.choices[0].message.content, TEXT, 'content');
  return { calls: 1, stream: false, model: 'auto' };
});

await cell(chat, 'tools', async (t) => {
  const messages = [{ role: 'user', content: 'Do I need a jacket in Paris today?' }];
  const first = await client.chat.completions.create({ model: MODEL, messages, tools: [chatTool] }, task(t));
  const call = first.choices[0].message.tool_calls?.[0];
  expect(first.choices[0].finish_reason === 'tool_calls' && call?.function.name === WEATHER.name, 'a get_weather call');
  expectEqual(JSON.parse(call.function.arguments).city, 'Paris', 'tool arguments city');
  messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '12°C, rain' });
  const second = await client.chat.completions.create({ model: MODEL, messages, tools: [chatTool] }, task(t));
  expectEqual(second.choices[0].message.content, TEXT, 'final content');
  return { calls: 2, stream: false, model: MODEL };
});

await cell(chat, 'structured', async (t) => {
  const completion = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'The weather in Paris, as JSON.' }],
    response_format: { type: 'json_schema', json_schema: { name: 'weather', strict: true, schema: STRUCTURED_SCHEMA } },
  }, task(t));
  expectEqual(JSON.parse(completion.choices[0].message.content), STRUCTURED, 'structured output');
  return { calls: 1, stream: false, model: MODEL };
});

// ---- Responses ----
const responses = 'openai (responses)';
const responsesTool = { type: 'function', name: WEATHER.name, description: WEATHER.description, parameters: WEATHER.schema, strict: false };

await cell(responses, 'text', async (t) => {
  const response = await client.responses.create({ model: MODEL, input: 'What does a model router do?' }, task(t));
  expectEqual(response.output_text, TEXT, 'output_text');
  return { calls: 1, stream: false, model: MODEL };
});

await cell(responses, 'stream', async (t) => {
  const stream = await client.responses.create({ model: MODEL, input: 'Write a haiku about cost.', stream: true }, task(t));
  let streamed = '';
  let completed = null;
  for await (const event of stream) {
    if (event.type === 'response.output_text.delta') streamed += event.delta;
    if (event.type === 'response.completed') completed = event.response;
  }
  expectEqual(streamed, STREAM_TEXT, 'streamed text');
  expect(completed?.usage?.output_tokens > 0, 'response.completed with usage');
  return { calls: 1, stream: true, model: MODEL };
});

await cell(responses, 'auto', async (t) => {
  const response = await client.responses.create({ model: 'auto', input: 'What does a model router do?' }, task(t));
  expectEqual(response.output_text, TEXT, 'output_text');
  return { calls: 1, stream: false, model: 'auto' };
});

await cell(responses, 'tools', async (t) => {
  const input = [{ role: 'user', content: 'Do I need a jacket in Paris today?' }];
  const first = await client.responses.create({ model: MODEL, input, tools: [responsesTool] }, task(t));
  const call = first.output.find((item) => item.type === 'function_call');
  expect(call?.name === WEATHER.name, 'a get_weather call');
  expectEqual(JSON.parse(call.arguments).city, 'Paris', 'tool arguments city');
  input.push(...first.output, { type: 'function_call_output', call_id: call.call_id, output: '12°C, rain' });
  const second = await client.responses.create({ model: MODEL, input, tools: [responsesTool] }, task(t));
  expectEqual(second.output_text, TEXT, 'final output_text');
  return { calls: 2, stream: false, model: MODEL };
});

await cell(responses, 'structured', async (t) => {
  const response = await client.responses.create({
    model: MODEL,
    input: 'The weather in Paris, as JSON.',
    text: { format: { type: 'json_schema', name: 'weather', strict: true, schema: STRUCTURED_SCHEMA } },
  }, task(t));
  expectEqual(JSON.parse(response.output_text), STRUCTURED, 'structured output');
  return { calls: 1, stream: false, model: MODEL };
});

report();
