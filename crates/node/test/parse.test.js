'use strict'
// `parse` and `recoverJson` on real tool output and real LLM replies.

const assert = require('node:assert/strict')
const { readFileSync, readdirSync, existsSync } = require('node:fs')
const { basename, join } = require('node:path')
const { test } = require('node:test')

const selfheal = require('..')
const { FIXTURES } = require('./support')

const TSC = "src/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.\n"

test('a diagnostic has getters, toJSON and fromJSON', () => {
  const [d, ...rest] = selfheal.parse(TSC)
  assert.equal(rest.length, 0)
  assert.deepEqual([d.tool, d.category, d.subcategory, d.severity], ['tsc', 'type', 'type_mismatch', 'error'])
  assert.deepEqual([d.file, d.line, d.column, d.code], ['src/app.ts', 12, 3, 'TS2322'])
  assert.equal(d.message, "Type 'string' is not assignable to type 'number'.")
  assert.equal(d.location, 'src/app.ts:12:3')
  assert.deepEqual(d.logLines, { start: 1, end: 1 })
  assert.ok(d.confidence > 0 && d.confidence <= 1 && d.fingerprint)
  const fields = JSON.parse(JSON.stringify(d))
  assert.equal(fields.file, 'src/app.ts')
  assert.deepEqual(fields.logLines, { start: 1, end: 1 })
  assert.deepEqual(selfheal.Diagnostic.fromJSON(fields).toJSON(), d.toJSON())
  assert.equal(selfheal.Diagnostic.fromJSON({ message: 'boom', endLine: 4 }).endLine, 4)
})

test('buffers, colors and invalid UTF-8 are read', () => {
  const log = Buffer.concat([Buffer.from(`\x1b[31m${TSC.trim()}\x1b[0m `), Buffer.from([0xff, 0x0a])])
  const [d] = selfheal.parse(log)
  assert.equal(d.code, 'TS2322')
  assert.deepEqual(selfheal.parse(''), [])
  assert.throws(() => selfheal.parse(42), TypeError)
})

function sameLocation(truth, found) {
  const sameFile = (truth.file == null) === (found.file == null) &&
    (truth.file == null || basename(truth.file) === basename(found.file ?? ''))
  return sameFile && (truth.line ?? null) === found.line
}

test('real tool logs parse as their ground truth', () => {
  // Every log of the public parser corpus: recall and precision on (file, line), and the
  // category of what was found.
  let truths = 0
  let found = 0
  let matched = 0
  let sameCategory = 0
  let cases = 0
  const root = join(FIXTURES, 'parsers')
  for (const tool of readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory())) {
    for (const name of readdirSync(join(root, tool.name))) {
      const dir = join(root, tool.name, name)
      if (!existsSync(join(dir, 'truth.json'))) continue
      cases += 1
      const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')).diagnostics
      const parsed = selfheal.parse(readFileSync(join(dir, 'log.txt')))
      truths += truth.length
      found += parsed.length
      const used = parsed.map(() => false)
      for (const t of truth) {
        const i = parsed.findIndex((d, j) => !used[j] && sameLocation(t, d))
        if (i >= 0) {
          used[i] = true
          matched += 1
          if (t.category == null || t.category === parsed[i].category) sameCategory += 1
        }
      }
    }
  }
  assert.ok(cases >= 250, `${cases} cases`)
  assert.ok(matched / truths >= 0.95, `recall ${matched / truths}`)
  assert.ok(matched / found >= 0.95, `precision ${matched / found}`)
  assert.ok(sameCategory / matched >= 0.9, `categories ${sameCategory / matched}`)
})

const PATTERN = {
  name: 'mytool',
  regex: String.raw`^(?P<file>[^:]+):(?P<line>\d+): (?P<severity>ERROR|WARN): (?P<message>.+)$`,
  category: 'syntax',
  triggers: [': ERROR: ', ': WARN: '],
}

test('custom formats as patterns, and the project root', () => {
  const log = '/work/app/gen/a.conf:7: ERROR: unknown key `colour`\n'
  assert.deepEqual(selfheal.parse(log), [])
  const [d] = selfheal.parse(log, { customFormats: [PATTERN], root: '/work/app' })
  assert.deepEqual([d.tool, d.file, d.line, d.category], ['mytool', 'gen/a.conf', 7, 'syntax'])
})

test('bad custom formats throw SelfHealErrors with E_CONFIG', () => {
  for (const format of [{ ...PATTERN, regex: '(?P<file>' }, { name: 'no-regex' }]) {
    assert.throws(() => selfheal.parse('x', { customFormats: [format] }), (error) => {
      assert.ok(error instanceof selfheal.SelfHealError && error instanceof Error)
      assert.equal(error.code, 'E_CONFIG')
      assert.equal(error.name, 'SelfHealError')
      assert.match(error.stack, /parse\.test\.js/)
      return true
    })
  }
  assert.throws(() => selfheal.Diagnostic.fromJSON({ file: 'x' }), { code: 'E_CONFIG', message: /needs a `message`/ })
})

test('real LLM replies recover as their ground truth', () => {
  // The public JSON-recovery corpus: LLM-style replies with the value a careful human extracts.
  let checked = 0
  let tooDeep = 0
  for (const file of ['cases.jsonl', 'generated.jsonl']) {
    for (const line of readFileSync(join(FIXTURES, 'json', file), 'utf8').split('\n')) {
      if (!line) continue
      const testCase = JSON.parse(line)
      const options = testCase.schema === 'fix' ? { schema: 'fix' } : undefined
      if (testCase.expected === null) {
        assert.throws(() => selfheal.recoverJson(testCase.input, options), { code: 'E_JSON_NOT_FOUND' })
      } else {
        let recovered
        try {
          recovered = selfheal.recoverJson(testCase.input, options).value
        } catch (error) {
          // Deeper than 128 levels is refused, never converted at the risk of the stack.
          assert.equal(error.code, 'E_JSON_TOO_DEEP', testCase.id)
          tooDeep += 1
          continue
        }
        assert.deepEqual(recovered, testCase.expected, testCase.id)
      }
      checked += 1
    }
  }
  assert.ok(checked >= 500, `${checked} checked`)
  assert.ok(tooDeep < 20, `${tooDeep} too deep`)
})

test('recoverJson repairs and picks by schema', () => {
  const reply = 'Plan: {"step": 1}\nFix:\n```json\n{"analysis": "x", "fixes": [{"file": "a.ts",},],}\n```'
  assert.deepEqual(selfheal.recoverJson(reply).value, { step: 1 })
  const fix = selfheal.recoverJson(reply, { schema: 'fix' })
  assert.deepEqual(fix.value, { analysis: 'x', fixes: [{ file: 'a.ts' }] })
  assert.equal(fix.stage, 'extracted')
  assert.deepEqual(new Set(fix.repairs.map((r) => r.kind)), new Set(['trailing_comma']))
  const [start, end] = fix.span
  assert.ok(Buffer.from(reply).subarray(start, end).toString().startsWith('{"analysis"'))
  assert.deepEqual(selfheal.recoverJson(reply, { schema: ['analysis'] }).value, fix.value)
  assert.throws(() => selfheal.recoverJson(reply, { schema: 'nope' }), { code: 'E_CONFIG' })
})

test('a value nested too deep is refused with E_JSON_TOO_DEEP', () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000)
  assert.throws(() => selfheal.recoverJson(deep), (error) => error instanceof selfheal.SelfHealError && error.code === 'E_JSON_TOO_DEEP')
  assert.equal(selfheal.recoverJson('['.repeat(120) + ']'.repeat(120)).value.length, 1)
  assert.throws(() => selfheal.recoverJson('['.repeat(129) + ']'.repeat(129)), { code: 'E_JSON_TOO_DEEP' })
})

test('custom formats as JavaScript parsers; their errors are rethrown as they were', () => {
  class Licenses {
    name = 'licenses'
    parse(log) {
      return log.split('\n').filter((line) => line.startsWith('LICENSE: '))
        .map((line) => ({ message: line.slice(9), category: 'dependency', file: 'package.json' }))
    }
  }
  const log = 'gen/a.conf:7: ERROR: unknown key `colour`\n\x1b[33mLICENSE: left-pad is GPL\x1b[0m\n' + TSC
  const found = selfheal.parse(log, { customFormats: [PATTERN, new Licenses()] })
  const byTool = Object.fromEntries(found.map((d) => [d.tool, d]))
  assert.deepEqual(Object.keys(byTool).sort(), ['licenses', 'mytool', 'tsc'])
  assert.equal(byTool.licenses.message, 'left-pad is GPL')
  assert.equal(byTool.licenses.category, 'dependency')

  const bug = new URIError('parser bug')
  assert.throws(() => selfheal.parse('anything\n', { customFormats: [{ parse: () => { throw bug } }] }), (error) => error === bug)
  assert.throws(() => selfheal.parse('anything\n', { customFormats: [{ parse: () => [{ file: 'x' }] }] }), { code: 'E_CONFIG', message: /needs a `message`/ })
})
