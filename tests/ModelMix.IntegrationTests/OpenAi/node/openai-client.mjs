// Drives ModelMix's OpenAI-compatible endpoint with the official `openai` npm client and prints one JSON object
// (the test asserts on it). Usage: node openai-client.mjs <proxy base URL, e.g. http://127.0.0.1:5123/v1>
import OpenAI from 'openai';

const baseURL = process.argv[2];
if (!baseURL) {
  console.error('usage: node openai-client.mjs <base URL ending in /v1>');
  process.exit(2);
}

const client = new OpenAI({ baseURL, apiKey: 'client-key-for-the-proxy', maxRetries: 0 });

const completion = await client.chat.completions.create({
  model: 'claude-haiku-4-5',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'What does a model router do?' },
  ],
});

const stream = await client.chat.completions.create({
  model: 'claude-haiku-4-5',
  messages: [{ role: 'user', content: 'Write a haiku about cost.' }],
  stream: true,
  stream_options: { include_usage: true },
});
let text = '';
let chunks = 0;
let finishReason = null;
let usage = null;
let role = null;
for await (const chunk of stream) {
  chunks++;
  const choice = chunk.choices[0];
  if (choice) {
    role ??= choice.delta.role ?? null;
    text += choice.delta.content ?? '';
    finishReason ??= choice.finish_reason ?? null;
  }
  usage ??= chunk.usage ?? null;
}

let error = null;
try {
  await client.chat.completions.create({ model: 'claude-haiku-4-5', messages: [] });
} catch (e) {
  error = { name: e.constructor.name, status: e.status ?? null, type: e.type ?? null, param: e.param ?? null, message: e.message };
}

console.log(JSON.stringify({
  completion: {
    object: completion.object,
    model: completion.model,
    content: completion.choices[0].message.content,
    finishReason: completion.choices[0].finish_reason,
    usage: completion.usage,
  },
  stream: { chunks, role, text, finishReason, usage },
  error,
}));
