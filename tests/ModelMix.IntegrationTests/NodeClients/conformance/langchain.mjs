// LangChain JS: @langchain/anthropic and @langchain/openai (Chat Completions, and the Responses API with
// useResponsesApi) against ModelMix. Usage: node langchain.mjs <proxy base URL>
import { ChatAnthropic } from '@langchain/anthropic';
import { ChatOpenAI } from '@langchain/openai';
import { HumanMessage, ToolMessage } from '@langchain/core/messages';
import { baseUrl, cell, expect, expectEqual, report, KEY, MODEL, STREAM_TEXT, STRUCTURED, STRUCTURED_SCHEMA, TEXT, WEATHER } from './cells.mjs';

const weatherTool = { type: 'function', function: { name: WEATHER.name, description: WEATHER.description, parameters: WEATHER.schema } };
const structuredSchema = { title: 'weather', description: 'The weather in a city', ...STRUCTURED_SCHEMA };
const textOf = (message) => (typeof message.content === 'string' ? message.content : message.content.filter((b) => b.type === 'text').map((b) => b.text).join(''));

async function family(name, make) {
  await cell(name, 'text', async (t) => {
    const answer = await make(MODEL, t).invoke('What does a model router do?');
    expectEqual(textOf(answer), TEXT, 'text');
    return { calls: 1, stream: false, model: MODEL };
  });

  await cell(name, 'stream', async (t) => {
    let streamed = '';
    for await (const chunk of await make(MODEL, t).stream('Write a haiku about cost.')) streamed += textOf(chunk);
    expectEqual(streamed, STREAM_TEXT, 'streamed text');
    return { calls: 1, stream: true, model: MODEL };
  });

  await cell(name, 'auto', async (t) => {
    const answer = await make('auto', t).invoke('What does a model router do?');
    expectEqual(textOf(answer), TEXT, 'text');
    return { calls: 1, stream: false, model: 'auto' };
  });

  await cell(name, 'tools', async (t) => {
    const model = make(MODEL, t).bindTools([weatherTool]);
    const messages = [new HumanMessage('Do I need a jacket in Paris today?')];
    const first = await model.invoke(messages);
    const call = first.tool_calls?.[0];
    expect(call?.name === WEATHER.name, 'a get_weather call');
    expectEqual(call.args.city, 'Paris', 'tool args city');
    messages.push(first, new ToolMessage({ tool_call_id: call.id, content: '12°C, rain' }));
    const second = await model.invoke(messages);
    expectEqual(textOf(second), TEXT, 'final text');
    return { calls: 2, stream: false, model: MODEL };
  });

  await cell(name, 'structured', async (t) => {
    const answer = await make(MODEL, t).withStructuredOutput(structuredSchema).invoke('The weather in Paris, as JSON.');
    expectEqual(answer, STRUCTURED, 'structured output');
    return { calls: 1, stream: false, model: MODEL };
  });
}

await family('@langchain/anthropic', (model, t) => new ChatAnthropic({
  model, apiKey: KEY, anthropicApiUrl: baseUrl, maxRetries: 0, maxTokens: 256, clientOptions: { defaultHeaders: { 'x-modelmix-task': t } },
}));
await family('@langchain/openai (chat completions)', (model, t) => new ChatOpenAI({
  model, apiKey: KEY, maxRetries: 0, configuration: { baseURL: `${baseUrl}/v1`, defaultHeaders: { 'x-modelmix-task': t } },
}));
await family('@langchain/openai (responses)', (model, t) => new ChatOpenAI({
  model, apiKey: KEY, maxRetries: 0, useResponsesApi: true, configuration: { baseURL: `${baseUrl}/v1`, defaultHeaders: { 'x-modelmix-task': t } },
}));

report();
