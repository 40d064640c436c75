'use strict'
// Shared by the tests: where the repository's fixtures are, and an OpenAI-compatible server on
// 127.0.0.1 that answers with queued replies in the API's wire format.

const { once } = require('node:events')
const { createServer } = require('node:http')
const { join } = require('node:path')

const REPO = join(__dirname, '..', '..', '..')
const FIXTURES = join(REPO, 'tests', 'fixtures')

/** A streamed chat completion in OpenAI's wire format (usage 90 in, 33 out). */
function sseCompletion(text, model = 'gpt-4o-2024-08-06') {
  const chunk = (choices, extra = {}) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model, choices, ...extra })}\n\n`
  const events = [chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])]
  for (let start = 0; start < text.length; start += 7) {
    events.push(chunk([{ index: 0, delta: { content: text.slice(start, start + 7) }, finish_reason: null }]))
  }
  events.push(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]))
  events.push(chunk([], { usage: { prompt_tokens: 90, completion_tokens: 33, total_tokens: 123 } }))
  events.push('data: [DONE]\n\n')
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: events.join('') }
}

/** A whole (not streamed) chat completion in OpenAI's wire format (usage 12 in, 5 out). */
function jsonCompletion(text, model = 'gpt-4o-2024-08-06') {
  const body = {
    id: 'chatcmpl-2', object: 'chat.completion', created: 1, model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
}

function errorReply(status, message, headers = {}) {
  const body = { error: { message, type: status >= 500 ? 'server_error' : 'rate_limit_exceeded' } }
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }
}

/** Answers POST /v1/chat/completions with the queued replies, in order; records requests. */
class OpenAIServer {
  constructor() {
    this.replies = []
    this.requests = []
    this.server = createServer((request, response) => {
      const chunks = []
      request.on('data', (chunk) => chunks.push(chunk))
      request.on('end', () => {
        this.requests.push({ path: request.url, body: JSON.parse(Buffer.concat(chunks).toString() || '{}'), authorization: request.headers.authorization })
        const reply = request.url === '/v1/chat/completions' && this.replies.length
          ? this.replies.shift()
          : errorReply(500, 'no reply queued')
        if (reply.drop) {
          request.socket.destroy()
          return
        }
        response.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) })
        response.end(reply.body)
      })
    })
  }

  async start() {
    this.server.listen(0, '127.0.0.1')
    await once(this.server, 'listening')
    return this
  }

  get baseURL() {
    return `http://127.0.0.1:${this.server.address().port}/v1`
  }

  async close() {
    this.server.closeAllConnections()
    this.server.close()
    await once(this.server, 'close')
  }
}

module.exports = { REPO, FIXTURES, OpenAIServer, errorReply, jsonCompletion, sseCompletion }
