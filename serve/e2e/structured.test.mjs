// Structured output through the official openai client: every schema in
// schemas.mjs goes to `conveyor serve` as response_format json_schema, whole
// and streamed (and greedy with a lower limit for a third of them); each
// answer must parse, validate against its schema (ajv), list the schema's
// properties in its order, and be the same both ways (same seed). The model is the tiny stories260K: it knows nothing of JSON, so the
// grammar does all the work, and the token limit forces it to close what it
// opened. Run by serve's Go test TestOpenAIClient (see openai.test.mjs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { schemas } from './schemas.mjs';
import { validator, keyOrder } from './validate.mjs';

const baseURL = process.env.OPENAI_BASE_URL;
const model = process.env.CONVEYOR_MODEL;
if (!baseURL || !model) {
  console.error('set OPENAI_BASE_URL and CONVEYOR_MODEL (serve/e2e_test.go does)');
  process.exit(2);
}
const client = new OpenAI({ baseURL, apiKey: 'not-needed', maxRetries: 0, timeout: 60_000 });
const maxTokens = 200;

async function streamedText(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { text, finish };
}

test('at least 30 schemas', () => assert.ok(schemas.length >= 30, `${schemas.length} schemas`));

// parse reads an answer's JSON; an error says which answer.
function parse(res, what) {
  const text = res.choices[0].message.content;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what}: ${err.message} (finish ${res.choices[0].finish_reason}, ${res.usage.completion_tokens} tokens): ${text}`);
  }
}

// Four at a time, as the server runs four sequences (answers do not depend
// on what else is in the batch).
describe('schemas', { concurrency: 4 }, () => schemas.forEach(({ name, schema }, i) => {
  test(`schema ${name}: valid answers, whole and streamed`, async () => {
    const validate = validator(schema);
    const params = {
      model,
      messages: [{ role: 'user', content: `Give me the ${name.replaceAll('_', ' ')} as JSON.` }],
      response_format: { type: 'json_schema', json_schema: { name, schema, strict: true } },
      max_tokens: maxTokens,
      temperature: 0.8,
      seed: i + 1,
    };
    const res = await client.chat.completions.create(params);
    const text = res.choices[0].message.content;
    const value = parse(res, 'sampled');
    validate(value);
    keyOrder(value, schema);
    assert.ok(['stop', 'length'].includes(res.choices[0].finish_reason), res.choices[0].finish_reason);
    assert.ok(res.usage.completion_tokens <= maxTokens);

    const streamed = await streamedText(params);
    assert.equal(streamed.text, text, 'the stream spells the same answer');
    assert.equal(streamed.finish, res.choices[0].finish_reason);

    // for every third schema, at temperature 0 too, with a lower limit
    if (i % 3 === 0) {
      const greedy = await client.chat.completions.create({ ...params, temperature: 0, max_tokens: 120 });
      validate(parse(greedy, 'greedy'));
    }
  });
}));

test('schemas the server cannot enforce are refused naming the keyword', async () => {
  for (const [schema, keyword] of [
    [{ type: 'array', items: { type: 'integer' }, uniqueItems: true }, 'uniqueItems'],
    [{ type: 'number', minimum: 0.12345678901234567 }, 'minimum'],
    [{ type: 'object', properties: { a: { type: 'integer', multipleOf: 3 } } }, 'multipleOf'],
    [{ type: 'number', minimum: 2, exclusiveMaximum: 2 }, 'minimum'],
  ]) {
    await assert.rejects(
      client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'x' }],
        response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
      }),
      (err) => err instanceof OpenAI.BadRequestError && err.param === 'response_format' && err.message.includes(`"${keyword}"`),
    );
  }
});

test('json_object answers are JSON objects', async () => {
  const params = { model, messages: [{ role: 'user', content: 'JSON please' }], response_format: { type: 'json_object' }, max_tokens: 60, temperature: 0.8, seed: 7 };
  const res = await client.chat.completions.create(params);
  const value = JSON.parse(res.choices[0].message.content);
  assert.equal(typeof value, 'object');
  assert.ok(value !== null && !Array.isArray(value));
  assert.equal((await streamedText(params)).text, res.choices[0].message.content);
});
