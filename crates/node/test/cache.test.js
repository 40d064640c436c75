'use strict'
// FixCache: opened, looked up, exported, imported and pruned; its errors.

const assert = require('node:assert/strict')
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { after, test } = require('node:test')

const selfheal = require('..')

const scratch = mkdtempSync(join(tmpdir(), 'selfheal-cache-'))
after(() => rmSync(scratch, { recursive: true, force: true }))

const TSC = "src/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.\n"

test('an empty cache: stats, lookups by Diagnostic and by fields, export, prune', async () => {
  const cache = new selfheal.FixCache(join(scratch, 'empty'))
  assert.equal(cache.dir, join(scratch, 'empty'))
  const stats = await cache.stats()
  assert.equal(stats.fixes, 0)
  assert.ok('failedAttempts' in stats, Object.keys(stats).join())
  const [diagnostic] = selfheal.parse(TSC)
  assert.equal(await cache.lookup(diagnostic), null)
  assert.equal(await cache.lookup(diagnostic.toJSON(), { language: 'typescript', dependencies: { react: '18.3.1' } }), null)
  assert.equal(await cache.export(join(scratch, 'none.jsonl')), 0)
  assert.equal(await cache.prune(), 0)
})

test('cache errors are SelfHealErrors with their code; a bad import stores nothing', async () => {
  const cache = new selfheal.FixCache(join(scratch, 'errors'))
  const bad = join(scratch, 'bad.jsonl')
  writeFileSync(bad, '{not json}\n')
  await assert.rejects(cache.import(bad), (error) => {
    assert.ok(error instanceof selfheal.SelfHealError)
    assert.equal(error.code, 'E_CONFIG')
    assert.match(error.message, /^invalid input: import line 1: /)
    assert.match(error.stack, /^SelfHealError: invalid input: import line 1/)
    return true
  })
  await assert.rejects(cache.import(join(scratch, 'missing.jsonl')), { code: 'E_CACHE' })
  await assert.rejects(cache.lookup({ file: 'x' }), { code: 'E_CONFIG', message: /needs a `message`/ })
  assert.equal((await cache.stats()).fixes, 0)
  writeFileSync(join(scratch, 'file'), '')
  assert.throws(() => new selfheal.FixCache(join(scratch, 'file')), selfheal.SelfHealError)
})
