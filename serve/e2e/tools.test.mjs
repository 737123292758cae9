// Tool calls through the official openai client: tools with tool_choice
// auto, none, required and a named function, whole and streamed (the
// tool_calls deltas assembled by hand and by the client's stream helper),
// parallel_tool_calls, and tool results sent back. With required or a named
// function every call must carry an id, a tool's name and arguments that are
// JSON valid against that tool's parameters (ajv). Run by serve's Go tests
// against a server with the phi3 template (calls as bare JSON) and one
// with Qwen 3's (Hermes <tool_call> tags).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { validator, keyOrder } from './validate.mjs';

const baseURL = process.env.OPENAI_BASE_URL;
const model = process.env.CONVEYOR_MODEL;
if (!baseURL || !model) {
  console.error('set OPENAI_BASE_URL and CONVEYOR_MODEL (serve/e2e_test.go does)');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: 'not-needed', maxRetries: 0, timeout: 60_000 });

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'The current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 20 }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
        required: ['city', 'unit'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'book_flight',
      description: 'Book a flight',
      parameters: {
        type: 'object',
        properties: {
          from: { type: 'string', pattern: '^[A-Z]{3}$' },
          to: { type: 'string', pattern: '^[A-Z]{3}$' },
          date: { type: 'string', format: 'date' },
          passengers: { type: 'integer', minimum: 1, maximum: 9 },
          nonstop: { type: 'boolean' },
        },
        required: ['from', 'to', 'date', 'passengers'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'convert_currency',
      parameters: {
        type: 'object',
        properties: { amount: { type: 'number', exclusiveMinimum: 0, maximum: 1000000 }, from: { enum: ['USD', 'EUR', 'JPY'] }, to: { enum: ['USD', 'EUR', 'JPY'] } },
        required: ['amount', 'from', 'to'],
        additionalProperties: false,
      },
    },
  },
];
const validators = Object.fromEntries(tools.map((t) => [t.function.name, validator(t.function.parameters)]));
const schemaOf = Object.fromEntries(tools.map((t) => [t.function.name, t.function.parameters]));
const messages = [{ role: 'user', content: 'What is the weather in Paris, and book me a flight to Tokyo.' }];
const base = { model, messages, tools, max_tokens: 160, temperature: 0.8 };
// TOOLS_QUICK (set for the long prompts of templates that list the tools):
// fewer samples of each case.
const seeds = process.env.TOOLS_QUICK ? [1] : [1, 2];

// checkCalls asserts calls are well formed, their arguments valid for their tool.
function checkCalls(calls, names = Object.keys(validators)) {
  assert.ok(Array.isArray(calls) && calls.length > 0, `tool calls: ${JSON.stringify(calls)}`);
  const ids = new Set();
  for (const call of calls) {
    assert.equal(call.type, 'function');
    assert.equal(typeof call.id, 'string');
    assert.ok(call.id.length > 0 && !ids.has(call.id), `call id ${call.id}`);
    ids.add(call.id);
    assert.ok(names.includes(call.function.name), `function ${call.function.name}`);
    let args;
    try {
      args = JSON.parse(call.function.arguments);
    } catch (err) {
      throw new Error(`arguments of ${call.function.name} are not JSON (${err.message}): ${call.function.arguments}`);
    }
    validators[call.function.name](args);
    keyOrder(args, schemaOf[call.function.name]);
  }
}

// streamedCalls reads a stream, assembling the tool_calls deltas by index.
async function streamedCalls(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const calls = [];
  let content = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? '';
      for (const d of choice.delta.tool_calls ?? []) {
        if (!calls[d.index]) {
          assert.equal(typeof d.id, 'string', 'the first delta of a call carries its id');
          assert.equal(typeof d.function?.name, 'string', 'the first delta of a call carries its name');
          calls[d.index] = { id: d.id, type: d.type, function: { name: d.function.name, arguments: '' } };
        } else {
          assert.equal(d.id, undefined, 'later deltas carry no id');
        }
        calls[d.index].function.arguments += d.function?.arguments ?? '';
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.ok(!calls.includes(undefined), 'call indexes have no gaps');
  return { calls, content, finish };
}

const strip = (calls) => calls.map((c) => [c.function.name, c.function.arguments]);

for (const seed of seeds) {
  test(`tool_choice required, seed ${seed}: whole and streamed`, async () => {
    const params = { ...base, tool_choice: 'required', seed };
    const res = await client.chat.completions.create(params);
    const msg = res.choices[0].message;
    checkCalls(msg.tool_calls);
    assert.equal(res.choices[0].finish_reason, 'tool_calls');

    const streamed = await streamedCalls(params);
    checkCalls(streamed.calls);
    assert.equal(streamed.finish, 'tool_calls');
    assert.deepEqual(strip(streamed.calls), strip(msg.tool_calls), 'the stream holds the same calls');

    // the client's own assembly of the deltas agrees
    const final = await client.chat.completions.stream(params).finalChatCompletion();
    checkCalls(final.choices[0].message.tool_calls);
    assert.deepEqual(strip(final.choices[0].message.tool_calls), strip(msg.tool_calls));
  });
}

test('a named function: every call is to it', async () => {
  for (const seed of seeds.map((s) => s + 3)) {
    const params = { ...base, tool_choice: { type: 'function', function: { name: 'book_flight' } }, seed };
    const res = await client.chat.completions.create(params);
    checkCalls(res.choices[0].message.tool_calls, ['book_flight']);
    const streamed = await streamedCalls(params);
    checkCalls(streamed.calls, ['book_flight']);
    assert.deepEqual(strip(streamed.calls), strip(res.choices[0].message.tool_calls));
  }
});

test('parallel_tool_calls false: one call', async () => {
  for (const seed of seeds.map((s) => s + 5)) {
    const params = { ...base, tool_choice: 'required', parallel_tool_calls: false, seed };
    const res = await client.chat.completions.create(params);
    checkCalls(res.choices[0].message.tool_calls);
    assert.equal(res.choices[0].message.tool_calls.length, 1);
    const streamed = await streamedCalls(params);
    assert.equal(streamed.calls.length, 1);
  }
});

test('tool_choice auto and none: answers of the right shape', async () => {
  for (const tool_choice of ['auto', 'none', undefined]) {
    const res = await client.chat.completions.create({ ...base, tool_choice, max_tokens: 24, seed: 9 });
    const { message, finish_reason } = res.choices[0];
    const calls = message.tool_calls ?? [];
    if (tool_choice === 'none') assert.equal(calls.length, 0);
    assert.equal(finish_reason === 'tool_calls', calls.length > 0, `finish ${finish_reason} with ${calls.length} calls`);
    if (calls.length === 0) assert.equal(typeof message.content, 'string');
    const streamed = await streamedCalls({ ...base, tool_choice, max_tokens: 24, seed: 9 });
    assert.equal(streamed.calls.length, calls.length);
    if (calls.length === 0) assert.equal(streamed.content, message.content);
  }
});

test('tool results round-trip, parallel calls included', async () => {
  const first = await client.chat.completions.create({ ...base, tool_choice: 'required', seed: 10 });
  const calls = first.choices[0].message.tool_calls;
  checkCalls(calls);
  // two calls answered at once, as a client does after parallel calls
  const pair = [
    { id: 'call_weather_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris", "unit": "celsius"}' } },
    { id: 'call_flight_2', type: 'function', function: { name: 'book_flight', arguments: '{"from": "CDG", "to": "HND", "date": "2026-03-01", "passengers": 1}' } },
  ];
  for (const assistantCalls of [calls, pair]) {
    const results = assistantCalls.map((c, i) => ({ role: 'tool', tool_call_id: c.id, content: JSON.stringify({ ok: true, n: i, note: 'sunny and 21 degrees' }) }));
    const history = [...messages, { role: 'assistant', content: null, tool_calls: assistantCalls }, ...results];
    const withResults = await client.chat.completions.create({ ...base, messages: history, tool_choice: 'auto', max_tokens: 8, seed: 11 });
    assert.ok(
      withResults.usage.prompt_tokens > first.usage.prompt_tokens + 20 * assistantCalls.length,
      `the prompt grew by the calls and their results: ${first.usage.prompt_tokens} → ${withResults.usage.prompt_tokens}`,
    );
    const again = await client.chat.completions.create({ ...base, messages: history, tool_choice: 'required', seed: 12 });
    checkCalls(again.choices[0].message.tool_calls);
  }
});

test('bad tool requests are refused', async () => {
  await assert.rejects(
    client.chat.completions.create({ ...base, tool_choice: { type: 'function', function: { name: 'no_such_tool' } } }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'tool_choice',
  );
  await assert.rejects(
    client.chat.completions.create({ ...base, tool_choice: 'required', tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'array', uniqueItems: true } } } } }] }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'tools' && err.message.includes('uniqueItems'),
  );
});
