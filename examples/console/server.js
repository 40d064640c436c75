'use strict'
// The selfheal live console: a small host app on 127.0.0.1. The page picks one of the bundled
// broken projects and starts a heal; the run's events stream to the page over Server-Sent
// Events as the library emits them, and the cancel button aborts the run (the attempt in
// progress is undone).
//
//   node server.js [--port 8080]
//
// Without a model configured, fixes come from the deterministic fixers and the fix cache; set
// ANTHROPIC_API_KEY, OPENAI_API_KEY (or OPENAI_BASE_URL) or GEMINI_API_KEY to let a model help.

const http = require('node:http')
const { cpSync, mkdtempSync, readFileSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { extname, join } = require('node:path')

const selfheal = require('selfheal')

/** The broken projects a user can pick: each is copied to a scratch folder and healed there. */
const PROJECTS = [
  {
    id: 'greeting',
    title: 'Python: a misspelled name',
    dir: join(__dirname, 'projects', 'greeting'),
    steps: ['python3 main.py'],
  },
  {
    id: 'typo',
    title: 'Python: a typo no fixer can place (a model helps)',
    dir: join(__dirname, 'projects', 'typo'),
    steps: ['python3 main.py'],
  },
  {
    id: 'ledger',
    title: 'Rust: a ledger with three compiler errors',
    dir: join(__dirname, '..', 'broken', 'ledger'),
    steps: ['cargo build --quiet'],
  },
]

const PAGES = { '/': 'index.html', '/app.js': 'app.js', '/style.css': 'style.css' }
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' }

/** A model from the environment, if one is configured. */
function model() {
  const set = (name) => Boolean(process.env[name])
  if (set('ANTHROPIC_API_KEY')) return new selfheal.Anthropic()
  if (set('OPENAI_API_KEY') || set('OPENAI_BASE_URL')) return new selfheal.OpenAI()
  if (set('GEMINI_API_KEY')) return new selfheal.Gemini()
  return undefined
}

const provider = model()
const healer = new selfheal.Healer({
  provider,
  cache: new selfheal.FixCache(process.env.SELFHEAL_CACHE_DIR || join(tmpdir(), 'selfheal-console-cache')),
  config: { maxAttempts: 8, backoff: 0, timeout: 300 },
})

/** Runs by id: their events so far (a page that connects late gets them all) and who listens. */
const runs = new Map()
let started = 0

function start(project) {
  const id = String(++started)
  const workspace = mkdtempSync(join(tmpdir(), `selfheal-console-${project.id}-`))
  cpSync(project.dir, workspace, { recursive: true, filter: (path) => !path.endsWith('/target') })
  const run = { id, project: project.id, messages: [], clients: new Set(), controller: new AbortController(), ended: false }
  runs.set(id, run)
  ;(async () => {
    try {
      const stream = healer.stream(workspace, project.steps, { signal: run.controller.signal })
      for await (const event of stream) publish(run, 'event', event)
      publish(run, 'report', await stream.report)
    } catch (error) {
      publish(run, 'failure', { message: error.message, code: error.code })
    } finally {
      run.ended = true
      for (const client of run.clients) client.end()
      rmSync(workspace, { recursive: true, force: true })
    }
  })()
  return run
}

function publish(run, type, data) {
  const message = `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`
  run.messages.push(message)
  for (const client of run.clients) client.write(message)
}

function json(response, status, value) {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(value))
}

async function body(request) {
  let text = ''
  for await (const chunk of request) {
    text += chunk
    if (text.length > 1 << 16) throw new Error('request body too large')
  }
  return text ? JSON.parse(text) : {}
}

async function route(request, response) {
  const url = new URL(request.url, 'http://localhost')
  const page = PAGES[url.pathname]
  if (request.method === 'GET' && page) {
    response.writeHead(200, { 'content-type': TYPES[extname(page)] })
    return response.end(readFileSync(join(__dirname, 'public', page)))
  }
  if (request.method === 'GET' && url.pathname === '/api/projects') {
    return json(response, 200, {
      projects: PROJECTS.map(({ id, title, steps }) => ({ id, title, steps })),
      model: provider ? `${provider.name} ${provider.model}` : null,
    })
  }
  if (request.method === 'POST' && url.pathname === '/api/runs') {
    const wanted = (await body(request)).project
    const project = PROJECTS.find((p) => p.id === wanted)
    if (!project) return json(response, 400, { error: 'unknown project' })
    return json(response, 201, { id: start(project).id })
  }
  const match = /^\/api\/runs\/(\d+)\/(events|cancel)$/.exec(url.pathname)
  const run = match && runs.get(match[1])
  if (!run) return json(response, 404, { error: 'no such run' })
  if (request.method === 'POST' && match[2] === 'cancel') {
    run.controller.abort()
    return json(response, 202, { cancelling: !run.ended })
  }
  if (request.method === 'GET' && match[2] === 'events') {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
    for (const message of run.messages) response.write(message)
    if (run.ended) return response.end()
    run.clients.add(response)
    request.on('close', () => run.clients.delete(response))
    return
  }
  json(response, 405, { error: 'method not allowed' })
}

function main() {
  const at = process.argv.indexOf('--port')
  const port = at > 0 ? Number(process.argv[at + 1]) : 8080
  const server = http.createServer((request, response) => {
    route(request, response).catch((error) => json(response, 400, { error: error.message }))
  })
  server.listen(port, '127.0.0.1', () => {
    console.log(`selfheal console on http://127.0.0.1:${server.address().port}`)
  })
}

main()
