// End-to-end test of `conveyor serve` with the official openai client.
// serve's Go test TestOpenAIClient starts the server and runs this file with
// OPENAI_BASE_URL (http://127.0.0.1:PORT/v1) and CONVEYOR_MODEL (the model id)
// set; the model is stories260K with --chat-template chatml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.OPENAI_BASE_URL;
const model = process.env.CONVEYOR_MODEL;
if (!baseURL || !model) {
  console.error('set OPENAI_BASE_URL and CONVEYOR_MODEL (serve/e2e_test.go does)');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: 'not-needed', maxRetries: 0, timeout: 60_000 });
const messages = [{ role: 'user', content: 'Tell me a story.' }];

async function chatText(params) {
  const res = await client.chat.completions.create({ model, messages, temperature: 0, ...params });
  return res;
}

// collect reads a stream into its text, finish reason, usage and chunk count.
async function collect(stream, legacy = false) {
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += legacy ? choice.text : (choice.delta.content ?? '');
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, finish, usage, chunks };
}

test('the model list names the model', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
  const one = await client.models.retrieve(model);
  assert.equal(one.id, model);
  assert.equal(one.object, 'model');
});

test('chat completion, whole and streamed, with usage', async () => {
  const res = await chatText({ max_tokens: 16 });
  assert.equal(res.object, 'chat.completion');
  assert.equal(res.model, model);
  assert.equal(res.choices.length, 1);
  assert.equal(res.choices[0].message.role, 'assistant');
  assert.ok(res.choices[0].message.content.length > 0);
  assert.equal(res.choices[0].finish_reason, 'length');
  assert.equal(res.usage.completion_tokens, 16);
  assert.ok(res.usage.prompt_tokens > 0);
  assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + 16);

  const stream = await client.chat.completions.create({
    model, messages, temperature: 0, max_tokens: 16, stream: true, stream_options: { include_usage: true },
  });
  const got = await collect(stream);
  assert.equal(got.text, res.choices[0].message.content);
  assert.equal(got.finish, 'length');
  assert.deepEqual(
    [got.usage.prompt_tokens, got.usage.completion_tokens, got.usage.total_tokens],
    [res.usage.prompt_tokens, 16, res.usage.total_tokens],
  );
  assert.ok(got.chunks >= 4);
});

test('legacy completion, whole and streamed', async () => {
  const res = await client.completions.create({ model, prompt: 'Once upon a time', temperature: 0, max_tokens: 20 });
  assert.equal(res.object, 'text_completion');
  assert.equal(res.choices[0].finish_reason, 'length');
  assert.ok(res.choices[0].text.length > 0);
  assert.equal(res.usage.completion_tokens, 20);

  const stream = await client.completions.create({
    model, prompt: 'Once upon a time', temperature: 0, max_tokens: 20, stream: true, stream_options: { include_usage: true },
  });
  const got = await collect(stream, true);
  assert.equal(got.text, res.choices[0].text);
  assert.equal(got.finish, 'length');
  assert.equal(got.usage.completion_tokens, 20);
  assert.equal(got.usage.prompt_tokens, res.usage.prompt_tokens);
});

test('stop sequences end the text before them', async () => {
  const full = (await client.completions.create({ model, prompt: 'Once upon a time', temperature: 0, max_tokens: 40 })).choices[0].text;
  const words = full.trim().split(/\s+/);
  assert.ok(words.length > 3, full);
  const stop = words[2];
  const want = full.slice(0, full.indexOf(stop));
  for (const stopParam of [stop, ['never in the text', stop]]) {
    const res = await client.completions.create({ model, prompt: 'Once upon a time', temperature: 0, max_tokens: 40, stop: stopParam });
    assert.equal(res.choices[0].text, want);
    assert.equal(res.choices[0].finish_reason, 'stop');
  }
  const fullChat = (await chatText({ max_tokens: 40 })).choices[0].message.content;
  const chatStop = fullChat.trim().split(/\s+/)[2];
  const stream = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 40, stop: [chatStop], stream: true });
  const got = await collect(stream);
  assert.equal(got.text, fullChat.slice(0, fullChat.indexOf(chatStop)));
  assert.equal(got.finish, 'stop');
});

test('max_tokens 1', async () => {
  const chat = await chatText({ max_tokens: 1 });
  assert.equal(chat.usage.completion_tokens, 1);
  assert.equal(chat.choices[0].finish_reason, 'length');
  const chat2 = await chatText({ max_completion_tokens: 1 });
  assert.equal(chat2.choices[0].message.content, chat.choices[0].message.content);
  const legacy = await client.completions.create({ model, prompt: 'Once upon a time', temperature: 0, max_tokens: 1 });
  assert.equal(legacy.usage.completion_tokens, 1);
  assert.equal(legacy.choices[0].finish_reason, 'length');
});

test('error statuses', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4o', messages }),
    (err) => err instanceof OpenAI.NotFoundError && err.status === 404 && err.code === 'model_not_found' && err.param === 'model',
  );
  await assert.rejects(
    client.chat.completions.create({ model, messages: [] }),
    (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && err.param === 'messages',
  );
  await assert.rejects(
    client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 0 }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'max_tokens',
  );
  await assert.rejects(
    client.completions.create({ model, prompt: 'Once upon a time '.repeat(300) }),
    (err) => err instanceof OpenAI.BadRequestError && err.code === 'context_length_exceeded',
  );
  await assert.rejects(
    client.chat.completions.create({ model, messages, stream: true, temperature: 'hot' }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'temperature' && err.type === 'invalid_request_error',
  );
  // Malformed JSON, which the client cannot send.
  const res = await fetch(`${baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages": [' });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error.type, 'invalid_request_error');
  assert.equal(typeof body.error.message, 'string');
});

test('an aborted stream, then a good request', async () => {
  const want = (await chatText({ max_tokens: 12 })).choices[0].message.content;
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model, messages: [{ role: 'user', content: 'A long one, please.' }], temperature: 0, max_tokens: 400, stream: true },
    { signal: controller.signal },
  );
  let seen = 0;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content && ++seen === 3) {
      controller.abort();
      break; // chunks already received would still come
    }
  }
  assert.equal(seen, 3);
  // The server frees the sequence at once.
  const metricsURL = baseURL.replace(/\/v1\/?$/, '') + '/metrics';
  const deadline = Date.now() + 2000;
  for (;;) {
    const metrics = await (await fetch(metricsURL)).text();
    if (/^conveyor_active_sequences 0$/m.test(metrics)) break;
    assert.ok(Date.now() < deadline, 'the aborted stream still holds a sequence');
    await new Promise((r) => setTimeout(r, 10));
  }
  const again = await chatText({ max_tokens: 12 });
  assert.equal(again.choices[0].message.content, want);
});

test('the same answer twice at temperature 0', async () => {
  const a = await chatText({ max_tokens: 24 });
  const b = await chatText({ max_tokens: 24 });
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const c = await client.completions.create({ model, prompt: 'Lily and Tom', temperature: 0, max_tokens: 24 });
  const d = await client.completions.create({ model, prompt: 'Lily and Tom', temperature: 0, max_tokens: 24 });
  assert.equal(c.choices[0].text, d.choices[0].text);
});
