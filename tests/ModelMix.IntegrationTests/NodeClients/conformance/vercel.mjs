// The Vercel AI SDK (`ai`) with its Anthropic, OpenAI (default: the Responses API) and OpenAI-compatible (Chat
// Completions) providers against ModelMix. Usage: node vercel.mjs <proxy base URL>
import { generateObject, generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { baseUrl, cell, expect, expectEqual, report, weather, KEY, MODEL, STREAM_TEXT, STRUCTURED, STRUCTURED_SCHEMA, TEXT, WEATHER } from './cells.mjs';

const anthropic = createAnthropic({ baseURL: `${baseUrl}/v1`, apiKey: KEY });
const openai = createOpenAI({ baseURL: `${baseUrl}/v1`, apiKey: KEY });
const compatible = createOpenAICompatible({ name: 'modelmix', baseURL: `${baseUrl}/v1`, apiKey: KEY, includeUsage: true });

/**
 * The five cells for one provider. `providerOptions` is passed on every call: the OpenAI provider's tool loop needs
 * { openai: { store: false } } (see docs/clients.md).
 */
async function provider(name, model, { providerOptions, toolLoopOptions } = {}) {
  const common = (t) => ({ headers: { 'x-modelmix-task': t }, maxRetries: 0, providerOptions });

  await cell(name, 'text', async (t) => {
    const result = await generateText({ model: model(MODEL), prompt: 'What does a model router do?', ...common(t) });
    expectEqual(result.text, TEXT, 'text');
    expect(result.usage.outputTokens > 0, 'usage');
    return { calls: 1, stream: false, model: MODEL };
  });

  await cell(name, 'stream', async (t) => {
    let failure = null;
    const result = streamText({ model: model(MODEL), prompt: 'Write a haiku about cost.', ...common(t), onError: ({ error }) => (failure = error) });
    let streamed = '';
    for await (const delta of result.textStream) streamed += delta;
    if (failure) throw failure;
    expectEqual(streamed, STREAM_TEXT, 'streamed text');
    expect((await result.usage).outputTokens > 0, 'usage');
    return { calls: 1, stream: true, model: MODEL };
  });

  await cell(name, 'auto', async (t) => {
    const result = await generateText({ model: model('auto'), prompt: 'What does a model router do?', ...common(t) });
    expectEqual(result.text, TEXT, 'text');
    return { calls: 1, stream: false, model: 'auto' };
  });

  await cell(name, 'tools', async (t) => {
    const calls = [];
    const result = await generateText({
      model: model(MODEL),
      prompt: 'Do I need a jacket in Paris today?',
      tools: { [WEATHER.name]: tool({ description: WEATHER.description, inputSchema: jsonSchema(WEATHER.schema), execute: weather(calls) }) },
      stopWhen: stepCountIs(2),
      ...common(t),
      ...(toolLoopOptions ? { providerOptions: toolLoopOptions } : {}),
    });
    expectEqual(calls.map((c) => c.city), ['Paris'], 'tool calls');
    expectEqual(result.steps.length, 2, 'steps');
    expectEqual(result.text, TEXT, 'final text');
    return { calls: 2, stream: false, model: MODEL };
  });

  await cell(name, 'structured', async (t) => {
    const result = await generateObject({ model: model(MODEL), schema: jsonSchema(STRUCTURED_SCHEMA), prompt: 'The weather in Paris, as JSON.', ...common(t) });
    expectEqual(result.object, STRUCTURED, 'object');
    return { calls: 1, stream: false, model: MODEL };
  });
}

await provider('ai + @ai-sdk/anthropic', (id) => anthropic(id));
// openai(id) is the Responses API since @ai-sdk/openai 2.
await provider('ai + @ai-sdk/openai (responses)', (id) => openai(id), { toolLoopOptions: { openai: { store: false } } });
await provider('ai + @ai-sdk/openai-compatible', (id) => compatible(id));

report();
