// @anthropic-ai/sdk against ModelMix's /v1/messages. Usage: node anthropic.mjs <proxy base URL>
import Anthropic from '@anthropic-ai/sdk';
import { baseUrl, cell, expect, expectEqual, report, KEY, MODEL, STREAM_TEXT, STRUCTURED, STRUCTURED_SCHEMA, TEXT, WEATHER } from './cells.mjs';

const client = new Anthropic({ baseURL: baseUrl, apiKey: KEY, maxRetries: 0 });
const name = '@anthropic-ai/sdk';
const task = (t) => ({ headers: { 'x-modelmix-task': t } });
const text = (message) => message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

await cell(name, 'text', async (t) => {
  const message = await client.messages.create({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'What does a model router do?' }] }, task(t));
  expectEqual(text(message), TEXT, 'text');
  return { calls: 1, stream: false, model: MODEL };
});

await cell(name, 'stream', async (t) => {
  const stream = client.messages.stream({ model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'Write a haiku about cost.' }] }, task(t));
  let streamed = '';
  stream.on('text', (delta) => (streamed += delta));
  const final = await stream.finalMessage();
  expectEqual(streamed, STREAM_TEXT, 'streamed text');
  expect(final.usage.output_tokens > 0, 'usage');
  return { calls: 1, stream: true, model: MODEL };
});

await cell(name, 'auto', async (t) => {
  const message = await client.messages.create({ model: 'auto', max_tokens: 256, messages: [{ role: 'user', content: 'What does a model router do?' }] }, task(t));
  expectEqual(text(message), TEXT, 'text');
  return { calls: 1, stream: false, model: 'auto' };
});

await cell(name, 'tools', async (t) => {
  const tools = [{ name: WEATHER.name, description: WEATHER.description, input_schema: WEATHER.schema }];
  const messages = [{ role: 'user', content: 'Do I need a jacket in Paris today?' }];
  const first = await client.messages.create({ model: MODEL, max_tokens: 256, tools, messages }, task(t));
  const use = first.content.find((b) => b.type === 'tool_use');
  expect(first.stop_reason === 'tool_use' && use?.name === WEATHER.name, 'a get_weather call');
  expectEqual(use.input.city, 'Paris', 'tool input city');
  messages.push({ role: 'assistant', content: first.content });
  messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '12°C, rain' }] });
  const second = await client.messages.create({ model: MODEL, max_tokens: 256, tools, messages }, task(t));
  expectEqual(text(second), TEXT, 'final text');
  return { calls: 2, stream: false, model: MODEL };
});

await cell(name, 'structured', async (t) => {
  const message = await client.messages.create({
    model: MODEL, max_tokens: 256,
    messages: [{ role: 'user', content: 'The weather in Paris, as JSON.' }],
    output_config: { format: { type: 'json_schema', schema: STRUCTURED_SCHEMA } },
  }, task(t));
  expectEqual(JSON.parse(text(message)), STRUCTURED, 'structured output');
  return { calls: 1, stream: false, model: MODEL };
});

report();
