'use strict'
// The built-in providers against an OpenAI-compatible server on 127.0.0.1: completions, retries on 429 with Retry-After and on 5xx, dropped connections, budgets, fallback chains.

const assert = require('node:assert/strict')
const { afterEach, beforeEach, test } = require('node:test')

const selfheal = require('..')
const { OpenAIServer, errorReply, jsonCompletion } = require('./support')

const FAST_RETRY = { baseDelay: 0.01, maxDelay: 0.05, jitter: 0 }
let server

beforeEach(async () => {
  server = await new OpenAIServer().start()
})
afterEach(() => server.close())

test('a completion through the default layers', async () => {
  server.replies.push(jsonCompletion('Use `let mut`.'))
  const provider = new selfheal.OpenAI({ apiKey: 'sk-test', baseURL: server.baseURL, model: 'gpt-4o' })
  assert.equal(provider.name, 'openai')
  assert.equal(provider.model, 'gpt-4o')
  const completion = await provider.complete('Why does it not build?', { system: 'You fix builds.', maxTokens: 300 })
  assert.equal(completion.text, 'Use `let mut`.')
  assert.deepEqual(completion.usage, { inputTokens: 12, outputTokens: 5 })
  assert.equal(completion.provider, 'openai')
  assert.equal(typeof completion.latencyMs, 'number')
  const [request] = server.requests
  assert.equal(request.authorization, 'Bearer sk-test')
  assert.equal(request.body.model, 'gpt-4o')
  assert.equal(request.body.messages[0].content, 'You fix builds.')
})

test('429 with Retry-After, 503 and a dropped connection are retried', async () => {
  server.replies.push(errorReply(429, 'slow down', { 'retry-after': '0' }), errorReply(503, 'busy'), { drop: true }, jsonCompletion('ok'))
  const provider = new selfheal.OpenAI({ apiKey: 'sk-test', baseURL: server.baseURL, retry: { ...FAST_RETRY, maxAttempts: 5 } })
  assert.equal((await provider.complete('hi')).text, 'ok')
  assert.equal(server.requests.length, 4)
})

test('without retries a 5xx rejects with E_PROVIDER', async () => {
  server.replies.push(errorReply(500, 'boom'))
  const provider = new selfheal.OpenAI({ apiKey: 'sk-test', baseURL: server.baseURL, retry: false, breaker: false })
  await assert.rejects(provider.complete('hi'), (error) => {
    assert.ok(error instanceof selfheal.SelfHealError)
    assert.equal(error.code, 'E_PROVIDER')
    assert.match(error.message, /500/)
    return true
  })
  assert.equal(server.requests.length, 1)
})

test('a budget refuses the call that would go over it', async () => {
  server.replies.push(jsonCompletion('first'))
  const provider = new selfheal.OpenAI({ apiKey: 'sk-test', baseURL: server.baseURL, maxTokens: 1000, retry: false })
  assert.equal((await provider.complete('hi', { maxTokens: 100 })).text, 'first')
  await assert.rejects(provider.complete('again', { maxTokens: 1000 }), { code: 'E_BUDGET' })
  assert.equal(server.requests.length, 1)
})

test('a fallback chain answers from the next provider', async () => {
  const down = new selfheal.OpenAI({ apiKey: 'sk-test', baseURL: 'http://127.0.0.1:9/v1', retry: false, breaker: false })
  server.replies.push(jsonCompletion('from the backup'))
  const backup = new selfheal.OpenAI({ apiKey: 'sk-test', baseURL: server.baseURL, retry: false })
  const chain = new selfheal.Fallback([down, backup])
  assert.match(chain.name, /^fallback\(/)
  assert.equal((await chain.complete('hi')).text, 'from the backup')
  assert.throws(() => new selfheal.Fallback([]), { code: 'E_CONFIG' })
})

test('invalid options throw E_CONFIG naming the option', () => {
  assert.throws(() => new selfheal.OpenAI({ apiKey: 'k', retry: { attempts: 3 } }), (error) =>
    error instanceof selfheal.SelfHealError && error.code === 'E_CONFIG' && /retry: unknown field `attempts`/.test(error.message))
  assert.throws(() => new selfheal.OpenAI({ apiKey: 'k', timeout: -1 }), { code: 'E_CONFIG' })
  const saved = process.env.ANTHROPIC_API_KEY
  delete process.env.ANTHROPIC_API_KEY
  try {
    assert.throws(() => new selfheal.Anthropic(), { code: 'E_CONFIG' })
  } finally {
    if (saved !== undefined) process.env.ANTHROPIC_API_KEY = saved
  }
})
