// End-to-end test of `conveyor serve` with an embedding model and the official
// openai client's embeddings.create. serve's Go test TestOpenAIClientEmbeddings
// starts the server (bert-cls.gguf of ../shared/embed) and runs this file with
// OPENAI_BASE_URL and CONVEYOR_MODEL set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.OPENAI_BASE_URL;
const model = process.env.CONVEYOR_MODEL;
if (!baseURL || !model) {
  console.error('set OPENAI_BASE_URL and CONVEYOR_MODEL (serve/embed_test.go does)');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: 'not-needed', maxRetries: 0, timeout: 60_000 });

const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('embeddings.create with one string (the client asks for base64 and decodes it)', async () => {
  const res = await client.embeddings.create({ model, input: 'What is the capital of France?' });
  assert.equal(res.object, 'list');
  assert.equal(res.model, model);
  assert.equal(res.data.length, 1);
  assert.equal(res.data[0].object, 'embedding');
  assert.equal(res.data[0].index, 0);
  assert.equal(res.data[0].embedding.length, 64);
  assert.ok(Math.abs(norm(res.data[0].embedding) - 1) < 1e-5);
  assert.equal(res.usage.prompt_tokens, 9);
  assert.equal(res.usage.total_tokens, 9);
});

test('embeddings.create with an array, as floats, matches base64', async () => {
  const input = ['The quick brown fox jumps over the lazy dog.', 'hello', ''];
  const floats = await client.embeddings.create({ model, input, encoding_format: 'float' });
  const b64 = await client.embeddings.create({ model, input });
  assert.equal(floats.data.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.equal(floats.data[i].index, i);
    // The JSON numbers are float32 values written shortest: they round to the base64 bits.
    assert.deepEqual(floats.data[i].embedding.map(Math.fround), b64.data[i].embedding);
  }
});

test('embeddings.create with token arrays and dimensions', async () => {
  const res = await client.embeddings.create({ model, input: [[101, 7592, 102]], dimensions: 32, encoding_format: 'float' });
  assert.equal(res.data[0].embedding.length, 32);
  assert.ok(Math.abs(norm(res.data[0].embedding) - 1) < 1e-5);
  assert.equal(res.usage.prompt_tokens, 3);
});

test('an input longer than the context is a 400 with the numbers', async () => {
  await assert.rejects(
    client.embeddings.create({ model, input: 'hello '.repeat(600) }),
    (err) => err.status === 400 && /602 tokens, more than the model's context of 512/.test(err.message),
  );
});
