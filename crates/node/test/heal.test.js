'use strict'
// The heal loop from JavaScript: a real broken project healed by a JavaScript provider (sync
// and async), by the built-in OpenAI provider against a loopback server; events; AbortSignal;
// callback errors; an idle Healer does not keep the process alive.

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { after, test } = require('node:test')

const selfheal = require('..')
const { OpenAIServer, sseCompletion } = require('./support')

const BROKEN = 'def total(items):\n    return "total: " + sum(items)\n\n\nprint(total([1, 2, 3]))\n'
const BROKEN_LINE = '    return "total: " + sum(items)'
const FIXED_LINE = '    return "total: " + str(sum(items))'
const QUICK = { backoff: 0, timeout: 60 }
const STEPS = ['python3 main.py']

const scratch = mkdtempSync(join(tmpdir(), 'selfheal-heal-'))
after(() => rmSync(scratch, { recursive: true, force: true }))
let projects = 0

/** A Python project whose build fails with a TypeError that only a model's fix heals. */
function project() {
  const root = join(scratch, `app${++projects}`)
  mkdirSync(root)
  writeFileSync(join(root, 'main.py'), BROKEN)
  return root
}

/** A fix as models write them: prose around a fenced block with a trailing comma. */
function fixReply() {
  const fix = { file: 'main.py', action: 'patch', search: BROKEN_LINE, replace: FIXED_LINE }
  return `An int is added to a str.\n\n\`\`\`json\n{"analysis": "str + int", "fixes": [${JSON.stringify(fix)}],}\n\`\`\`\n`
}

class HouseModel {
  name = 'house-model'
  model = 'house-1'
  requests = []

  complete(request) {
    this.requests.push(request)
    return { text: fixReply(), usage: { inputTokens: 120, outputTokens: 40 } }
  }
}

test('a JavaScript provider heals a real project', async () => {
  const root = project()
  const model = new HouseModel()
  const report = await new selfheal.Healer({ provider: model, config: QUICK }).heal(root, STEPS)
  assert.equal(report.outcome, 'healed')
  assert.ok(readFileSync(join(root, 'main.py'), 'utf8').includes(FIXED_LINE))
  assert.equal(model.requests.length, 1)
  const [request] = model.requests
  assert.equal(request.model, 'house-1')
  assert.ok(request.messages.at(-1).content.includes('TypeError'))
  assert.deepEqual(report.usage, { inputTokens: 120, outputTokens: 40 })
  assert.equal(report.attempts.at(-1).source, 'llm')
})

test('an async provider returning a string works too', async () => {
  const root = project()
  const provider = { complete: async () => fixReply() }
  const report = await new selfheal.Healer({ provider, config: QUICK }).heal(root, [{ command: 'python3 main.py', timeout: 30 }])
  assert.equal(report.outcome, 'healed')
})

test('an error thrown or rejected by the provider rejects heal with that same error', async () => {
  for (const complete of [() => { throw new RangeError('quota') }, async () => Promise.reject(new RangeError('quota'))]) {
    const root = project()
    let thrown
    const provider = { complete: (...args) => { try { return complete(...args) } catch (error) { thrown = error; throw error } } }
    const healer = new selfheal.Healer({ provider, config: QUICK })
    await assert.rejects(healer.heal(root, STEPS), (error) => {
      assert.ok(error instanceof RangeError)
      assert.equal(error.message, 'quota')
      if (thrown) assert.equal(error, thrown)
      return true
    })
    assert.equal(readFileSync(join(root, 'main.py'), 'utf8'), BROKEN)
  }
})

test('the built-in OpenAI provider heals against a loopback server', async () => {
  const server = await new OpenAIServer().start()
  try {
    server.replies.push(sseCompletion(fixReply()))
    const root = project()
    const provider = new selfheal.OpenAI({ apiKey: 'sk-test', baseURL: server.baseURL, retry: false })
    const report = await new selfheal.Healer({ provider, config: QUICK }).heal(root, STEPS)
    assert.equal(report.outcome, 'healed')
    assert.equal(server.requests.length, 1)
    assert.equal(server.requests[0].body.stream, true)
  } finally {
    await server.close()
  }
})

test('events stream as an async iterable, and onEvent sees them too', async () => {
  const root = project()
  const stream = new selfheal.Healer({ provider: new HouseModel(), config: QUICK }).stream(root, STEPS)
  const kinds = []
  for await (const event of stream) kinds.push(event.kind)
  assert.equal((await stream.report).outcome, 'healed')
  assert.equal(kinds[0], 'run_started')
  assert.equal(kinds.at(-1), 'healed')
  for (const kind of ['step_started', 'diagnostics', 'llm_request', 'fix_applied']) assert.ok(kinds.includes(kind), kind)

  const seen = []
  const report = await new selfheal.Healer({ provider: new HouseModel(), config: QUICK })
    .heal(project(), STEPS, { onEvent: (event) => seen.push(event.kind) })
  assert.equal(report.outcome, 'healed')
  assert.deepEqual(seen.at(-1), 'healed')
})

test('an AbortSignal cancels the run and leaves the workspace as it was', async () => {
  const root = project()
  writeFileSync(join(root, 'slow.py'), 'import time\ntime.sleep(30)\n')
  const controller = new AbortController()
  const started = Date.now()
  const healing = new selfheal.Healer({ provider: new HouseModel(), config: QUICK })
    .heal(root, ['python3 slow.py'], { signal: controller.signal })
  setTimeout(() => controller.abort(), 500)
  const report = await healing
  assert.equal(report.outcome, 'cancelled')
  assert.ok(Date.now() - started < 10_000)
  assert.equal(readFileSync(join(root, 'main.py'), 'utf8'), BROKEN)
  await assert.rejects(new selfheal.Healer().heal(root, STEPS, { signal: AbortSignal.abort() }), { name: 'AbortError' })
})

test('bad arguments are clear', async () => {
  assert.throws(() => new selfheal.Healer({ provider: {} }), TypeError)
  assert.throws(() => new selfheal.Healer({ config: { attempts: 3 } }), { code: 'E_CONFIG', message: /unknown field `attempts`/ })
  assert.throws(() => new selfheal.Healer({ fixers: ['nope'] }), { code: 'E_CONFIG', message: /unknown fixer `nope`/ })
  await assert.rejects(new selfheal.Healer().heal(project(), []), { code: 'E_CONFIG' })
  await assert.rejects(new selfheal.Healer().heal(project(), [{ cmd: 'x' }]), { code: 'E_CONFIG' })
  assert.ok(selfheal.defaultFixers().includes('missing-dependencies'))
})

test('an idle Healer does not keep the process alive, before or after a heal', () => {
  const green = project()
  writeFileSync(join(green, 'main.py'), 'print("ok")\n')
  const script = `
    const selfheal = require(${JSON.stringify(join(__dirname, '..'))})
    globalThis.healer = new selfheal.Healer({ provider: { complete: () => 'no' }, cache: new selfheal.FixCache(${JSON.stringify(join(scratch, 'idle-cache'))}) })
    if (process.argv[1] === 'heal') healer.heal(${JSON.stringify(green)}, ['python3 main.py']).then((r) => console.log(r.outcome))
    else console.log('ready')
  `
  for (const [mode, printed] of [['idle', 'ready\n'], ['heal', 'already_green\n']]) {
    const started = Date.now()
    const ran = spawnSync(process.execPath, ['-e', script, mode], { encoding: 'utf8', timeout: 20_000 })
    assert.equal(ran.status, 0, ran.stderr)
    assert.equal(ran.stdout, printed)
    assert.ok(Date.now() - started < 5_000, `${mode}: ${Date.now() - started} ms`)
  }
})

test('a JavaScript builder runs the steps; its errors reject heal as they were', async () => {
  const root = project()
  const ran = []
  const builder = {
    name: 'in-process',
    async run(step, workspace) {
      ran.push([step.name, workspace])
      const fixed = readFileSync(join(workspace, 'main.py'), 'utf8').includes(FIXED_LINE)
      return fixed
        ? { exitCode: 0, output: 'total: 6\n' }
        : { exitCode: 1, stderr: 'Traceback (most recent call last):\n  File "main.py", line 5, in <module>\n    print(total([1, 2, 3]))\n  File "main.py", line 2, in total\n    return "total: " + sum(items)\nTypeError: can only concatenate str (not "int") to str\n' }
    },
  }
  const report = await new selfheal.Healer({ provider: new HouseModel(), builder, config: QUICK }).heal(root, ['check'])
  assert.equal(report.outcome, 'healed')
  assert.deepEqual(ran.map(([name]) => name), ['check', 'check'])
  assert.ok(ran.every(([, workspace]) => typeof workspace === 'string'))

  const failing = { run: () => { throw new EvalError('no sandbox') } }
  await assert.rejects(new selfheal.Healer({ builder: failing, config: QUICK }).heal(project(), ['check']), EvalError)
  assert.throws(() => new selfheal.Healer({ builder: {} }), TypeError)
})

test('onEscalation sees the report of a run that escalates', async () => {
  const escalations = []
  const unhelpful = { complete: () => 'I am not sure what is wrong.' }
  const healer = new selfheal.Healer({ provider: unhelpful, config: { ...QUICK, maxAttempts: 2 }, onEscalation: (report) => escalations.push(report) })
  const report = await healer.heal(project(), STEPS)
  assert.equal(report.outcome, 'escalated')
  assert.deepEqual(escalations, [report])
  assert.ok(report.escalation.nextAction.length > 0)
  assert.throws(() => new selfheal.Healer({ onEscalation: 'email' }), TypeError)
})

test('a JavaScript error parser feeds the loop; its errors stop the run', async () => {
  // A build whose failure no built-in parser reads: only the custom parser finds the error.
  const root = project()
  writeFileSync(join(root, 'check.py'), 'import sys\nif "mode=ok" not in open("app.conf").read():\n    print("CONF-ERR app.conf:1 mode must be ok")\n    sys.exit(1)\n')
  writeFileSync(join(root, 'app.conf'), 'mode=broken\n')
  const logs = []
  const parser = {
    name: 'conf',
    parse(log) {
      logs.push(log)
      return [...log.matchAll(/^CONF-ERR (\S+):(\d+) (.+)$/gm)].map(([, file, line, message]) => ({ file, line: Number(line), message, category: 'configuration' }))
    },
  }
  const model = { complete: () => JSON.stringify({ fixes: [{ file: 'app.conf', action: 'patch', search: 'mode=broken', replace: 'mode=ok' }] }) }
  const report = await new selfheal.Healer({ provider: model, customFormats: [parser], config: QUICK }).heal(root, ['python3 check.py'])
  assert.equal(report.outcome, 'healed')
  assert.equal(readFileSync(join(root, 'app.conf'), 'utf8'), 'mode=ok\n')
  assert.ok(logs[0].includes('CONF-ERR app.conf:1 mode must be ok'))

  const bug = new SyntaxError('parser bug')
  const throwing = { parse: () => { throw bug } }
  await assert.rejects(new selfheal.Healer({ customFormats: [throwing], config: QUICK }).heal(project(), STEPS), (error) => error === bug)
  const wrong = { parse: () => [{ file: 'x' }] }
  await assert.rejects(new selfheal.Healer({ customFormats: [wrong], config: QUICK }).heal(project(), STEPS), { code: 'E_CONFIG' })
})

test('a Fallback chain may end in a JavaScript provider', async () => {
  const down = new selfheal.OpenAI({ apiKey: 'sk-test', baseURL: 'http://127.0.0.1:9/v1', retry: false, breaker: false })
  const model = new HouseModel()
  const chain = new selfheal.Fallback([down, model])
  assert.ok(chain instanceof selfheal.Fallback)
  assert.match(chain.name, /house-model/)
  assert.equal((await chain.complete('hello')).text, fixReply())
  const report = await new selfheal.Healer({ provider: chain, config: QUICK }).heal(project(), STEPS)
  assert.equal(report.outcome, 'healed')
  assert.equal(model.requests.length, 2)
  assert.throws(() => new selfheal.Fallback([down, {}]), TypeError)
})

test('aborting during a fix attempt undoes it: the workspace is back at its last snapshot', async () => {
  const root = project()
  const controller = new AbortController()
  const seen = []
  const report = await new selfheal.Healer({ provider: new HouseModel(), config: QUICK }).heal(root, ['python3 main.py && sleep 30'], {
    signal: controller.signal,
    onEvent: (event) => {
      seen.push(event.kind)
      // The fix is applied and the rebuild is under way: abort now.
      if (event.kind === 'step_started' && seen.includes('fix_applied')) setTimeout(() => controller.abort(), 300)
    },
  })
  assert.equal(report.outcome, 'cancelled')
  assert.ok(seen.includes('fix_applied'))
  assert.equal(readFileSync(join(root, 'main.py'), 'utf8'), BROKEN)
})

test('a callback throwing a SelfHealError E_CANCELLED ends the run as cancelled', async () => {
  const closed = () => { throw new selfheal.SelfHealError('the user closed the tab', 'E_CANCELLED') }
  for (const complete of [closed, async () => closed()]) {
    const report = await new selfheal.Healer({ provider: { complete }, config: QUICK }).heal(project(), STEPS)
    assert.equal(report.outcome, 'cancelled', complete.toString())
  }
})

test('a fix learned by heal is served from the cache, exported and imported', async () => {
  const cache = new selfheal.FixCache(join(scratch, 'learned'))
  const model = new HouseModel()
  const healer = new selfheal.Healer({ provider: model, cache, config: QUICK })
  assert.equal((await healer.heal(project(), STEPS)).outcome, 'healed')
  const stats = await cache.stats()
  assert.equal(stats.fixes, 1)

  // The same error in another project: healed from the cache, without asking the model.
  const again = await healer.heal(project(), STEPS)
  assert.equal(again.outcome, 'healed')
  assert.equal(again.attempts.at(-1).source, 'cache')
  assert.equal(model.requests.length, 1)

  const ran = spawnSync('python3', ['main.py'], { cwd: project(), encoding: 'utf8' })
  const [diagnostic] = selfheal.parse(ran.stderr)
  const hit = await cache.lookup(diagnostic)
  assert.equal(hit.fix.proposal.edits[0].path, 'main.py')
  assert.equal(hit.matched, 'exact')
  const exported = join(scratch, 'fixes.jsonl')
  assert.equal(await cache.export(exported), 1)
  const other = new selfheal.FixCache(join(scratch, 'other'))
  assert.deepEqual(await other.import(exported), { read: 1, added: 1, refused: 0 })
  assert.notEqual(await other.lookup(diagnostic.toJSON()), null)
})

/** A fresh database on the fleet test server (`SELFHEAL_TEST_PG_URL`), or null without one. */
function fleetDatabase(name) {
  const admin = process.env.SELFHEAL_TEST_PG_URL
  if (!admin) {
    // Only a developer's machine may lack the server: in CI its absence is a failure.
    assert.ok(!process.env.CI, 'CI must run the fleet tests: SELFHEAL_TEST_PG_URL is not set')
    return null
  }
  const database = `selfheal_node_${name}_${process.pid}`
  for (const statement of [`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, `CREATE DATABASE ${database}`]) {
    const psql = spawnSync('psql', [admin, '-qc', statement], { encoding: 'utf8' })
    assert.equal(psql.status, 0, psql.stderr)
  }
  return `${admin.slice(0, admin.lastIndexOf('/'))}/${database}`
}

test('a fix learned by one worker heals another through the fleet cache', async (t) => {
  const url = fleetDatabase('fleet')
  if (!url) return t.skip('SELFHEAL_TEST_PG_URL is not set (.ci/run starts a server)')
  const model = new HouseModel()
  const learner = new selfheal.FixCache(join(scratch, 'fleet-a'), url)
  const learned = await new selfheal.Healer({ provider: model, cache: learner, config: QUICK }).heal(project(), STEPS)
  assert.equal(learned.outcome, 'healed')
  await learner.sync()

  // Another worker, its own folder, no model: the fleet's fix heals its project.
  const other = new selfheal.FixCache(join(scratch, 'fleet-b'), url)
  await other.sync()
  const healed = await new selfheal.Healer({ cache: other, config: QUICK }).heal(project(), STEPS)
  assert.equal(healed.outcome, 'healed')
  assert.equal(healed.attempts.at(-1).source, 'cache')
  assert.equal(model.requests.length, 1)

  // An unreachable fleet: the cache works from its folder; a sync says why it failed.
  const offline = new selfheal.FixCache(join(scratch, 'fleet-c'), 'postgres://selfheal@127.0.0.1:1/nowhere')
  assert.equal((await offline.stats()).fixes, 0)
  await assert.rejects(offline.sync(), { code: 'E_CACHE', message: /fleet store/ })
})

test('a HealthMonitor counts the runs of the healers it is given to', async () => {
  assert.throws(() => new selfheal.HealthMonitor(0), { code: 'E_CONFIG', message: /window/ })
  const monitor = new selfheal.HealthMonitor(600)
  assert.deepEqual(monitor.health().alerts, [])
  assert.equal(monitor.health().status, 'healthy')
  const healer = new selfheal.Healer({ provider: new HouseModel(), config: QUICK, monitor })
  assert.equal((await healer.heal(project(), STEPS)).outcome, 'healed')
  const offline = new selfheal.Healer({ config: { ...QUICK, maxAttempts: 2 }, monitor })
  assert.equal((await offline.heal(project(), STEPS)).outcome, 'escalated')
  const health = monitor.health()
  assert.equal(health.runs, 2)
  assert.equal(health.failureRate, 0.5)
  assert.equal(health.escalationRate, 0.5)
  assert.equal(health.status, 'critical')
  assert.deepEqual(health.alerts, ['failure rate 50% ≥ critical 50%'])
  assert.equal(health.cacheHitRate, 0)
  assert.ok(health.meanRecoverySecs > 0)
})

test('the edit policy refuses what a fix may not touch unless the host allows it', async () => {
  const root = project()
  mkdirSync(join(root, '.git'))
  writeFileSync(join(root, '.git', 'config'), '[core]\n')
  mkdirSync(join(root, 'tests'))
  writeFileSync(join(root, 'tests', 'test_main.py'), 'def test_it():\n    assert True\n')
  const hostile = [{ file: '.git/config', action: 'replace', content: '[core]\n\tfsmonitor = id\n' }]
  const deleteTest = [{ file: 'tests/test_main.py', action: 'delete' }]
  const scripted = (...replies) => ({
    prompts: [],
    complete(request) {
      this.prompts.push(request.messages.at(-1).content)
      return JSON.stringify({ analysis: 'make it pass', fixes: replies.shift() })
    },
  })
  const provider = scripted(hostile, deleteTest)
  const kinds = []
  const report = await new selfheal.Healer({ provider, config: { ...QUICK, maxAttempts: 3 } })
    .heal(root, STEPS, { onEvent: (event) => kinds.push(event.kind) })

  assert.notEqual(report.outcome, 'healed')
  assert.equal(kinds.filter((kind) => kind === 'fix_refused').length, 2)
  assert.deepEqual(report.attempts.slice(1).map((a) => a.refused.map((r) => r.rule)), [['version_control'], ['protected']])
  assert.equal(report.attempts[2].refused[0].class, 'tests')
  assert.equal(readFileSync(join(root, '.git', 'config'), 'utf8'), '[core]\n')
  assert.ok(provider.prompts[1].includes('refused by the edit policy'))

  const allowed = await new selfheal.Healer({ provider: scripted(deleteTest), config: { ...QUICK, maxAttempts: 2, allow: ['tests'] } })
    .heal(root, STEPS)
  assert.deepEqual(allowed.attempts[1].refused, [])
  assert.throws(() => new selfheal.Healer({ provider, config: { allow: ['everything'] } }), { code: 'E_CONFIG' })
})
