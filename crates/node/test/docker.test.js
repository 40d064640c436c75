'use strict'
// DockerBuilder from Node against the real Docker engine: a project healed inside locked-down
// containers, with nothing left behind. `.ci/run` starts the engine; the test image is made from
// the host's static busybox, without any registry.

const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { after, before, test } = require('node:test')

const selfheal = require('..')

const IMAGE = 'selfheal-test-busybox:1'
const STEP = "grep -q mode=ok app.conf || { echo 'app.conf:1: error: mode must be ok' >&2; exit 1; }"
const scratch = mkdtempSync(join(tmpdir(), 'selfheal-docker-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

function docker(...args) {
  return spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000 })
}

let engine = true
before(() => {
  if (docker('info').status !== 0) {
    // Only a developer's machine may lack the engine: in CI its absence is a failure.
    assert.ok(!process.env.CI, 'CI must run the Docker tests: no engine answers')
    engine = false
    return
  }
  if (docker('image', 'inspect', IMAGE).status !== 0) {
    // The same image the Rust and Python tests import: busybox and its applets.
    const root = join(scratch, 'rootfs')
    const made = spawnSync('sh', ['-c', `mkdir -p ${root}/bin ${root}/tmp ${root}/etc ${root}/workspace && cp /bin/busybox ${root}/bin/ && for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox ${root}/bin/$a; done && tar -C ${root} -c . | docker import -c 'ENV PATH=/bin' - ${IMAGE}`])
    assert.equal(made.status, 0, String(made.stderr))
  }
})

const containers = () => docker('ps', '-aq', '--filter', 'label=dev.selfheal').stdout.trim()

test('a project is healed inside containers', async (t) => {
  if (!engine) return t.skip('no Docker engine answers (.ci/run starts one)')
  const root = mkdtempSync(join(scratch, 'app-'))
  writeFileSync(join(root, 'app.conf'), 'mode=broken\n')
  const prompts = []
  const provider = {
    complete(request) {
      prompts.push(request.messages.at(-1).content)
      return JSON.stringify({ fixes: [{ file: 'app.conf', action: 'patch', search: 'mode=broken', replace: 'mode=ok' }] })
    },
  }
  const builder = await selfheal.DockerBuilder.connect(IMAGE, { memoryMib: 64, timeout: 60 })
  const before = containers()
  const report = await new selfheal.Healer({ provider, builder, config: { backoff: 0, timeout: 60 } }).heal(root, [STEP])
  assert.equal(report.outcome, 'healed')
  assert.equal(readFileSync(join(root, 'app.conf'), 'utf8'), 'mode=ok\n')
  assert.match(prompts[0], /at app\.conf:1\n {3}mode must be ok/)
  assert.equal(containers(), before)
})

test('the container has no network unless asked', async (t) => {
  if (!engine) return t.skip('no Docker engine answers (.ci/run starts one)')
  const root = mkdtempSync(join(scratch, 'net-'))
  const probe = ["ip -o link | grep -v ' lo:' && exit 1 || exit 0"]
  const offline = await selfheal.DockerBuilder.connect(IMAGE, { timeout: 60 })
  assert.equal((await new selfheal.Healer({ builder: offline, config: { backoff: 0 } }).heal(root, probe)).outcome, 'already_green')
  const online = await selfheal.DockerBuilder.connect(IMAGE, { network: true, timeout: 60 })
  assert.notEqual((await new selfheal.Healer({ builder: online, config: { backoff: 0, maxAttempts: 1 } }).heal(root, probe)).outcome, 'already_green')
})

test('a LocalBuilder with a default timeout stops a step that runs too long', async () => {
  const root = mkdtempSync(join(scratch, 'local-'))
  const builder = new selfheal.LocalBuilder({ timeout: 0.5 })
  const started = Date.now()
  const report = await new selfheal.Healer({ builder, config: { backoff: 0, maxAttempts: 1 } }).heal(root, ['sleep 30'])
  assert.notEqual(report.outcome, 'already_green')
  assert.ok(Date.now() - started < 10_000)
  assert.throws(() => new selfheal.LocalBuilder({ timeout: -1 }), { code: 'E_CONFIG' })
})

test('without an engine, connecting rejects with E_BUILD', async () => {
  const saved = process.env.DOCKER_HOST
  process.env.DOCKER_HOST = 'tcp://127.0.0.1:9'
  try {
    await assert.rejects(selfheal.DockerBuilder.connect(IMAGE), (error) => error instanceof selfheal.SelfHealError && error.code === 'E_BUILD')
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST
    else process.env.DOCKER_HOST = saved
  }
})
