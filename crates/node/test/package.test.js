'use strict'
// The package as a user gets it: `npm install` of this folder into a fresh project, `require`
// and `import`, the typed examples compiled with `tsc --strict` and run.

const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { after, before, test } = require('node:test')

const { FIXTURES, REPO } = require('./support')

const PACKAGE = join(__dirname, '..')
const EXAMPLES = join(REPO, 'examples', 'node')
let project

before(() => {
  project = mkdtempSync(join(tmpdir(), 'selfheal-npm-'))
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', PACKAGE], { cwd: project, stdio: 'pipe' })
})

after(() => rmSync(project, { recursive: true, force: true }))

function run(file, args = [], options = {}) {
  return spawnSync(process.execPath, [file, ...args], { cwd: project, encoding: 'utf8', timeout: 60_000, ...options })
}

test('a fresh project can require and import the package', () => {
  writeFileSync(join(project, 'cjs.js'), "const { Healer, parse, Diagnostic, SelfHealError } = require('selfheal')\nconsole.log(typeof Healer, typeof parse, typeof Diagnostic, typeof SelfHealError)\n")
  writeFileSync(join(project, 'esm.mjs'), "import { Healer, parse, recoverJson, SelfHealError } from 'selfheal'\nimport selfheal from 'selfheal'\nconsole.log(typeof Healer, typeof parse, typeof recoverJson, typeof SelfHealError, typeof selfheal.parse)\n")
  assert.equal(run('cjs.js').stdout, 'function function function function\n')
  assert.equal(run('esm.mjs').stdout, 'function function function function function\n')
})

test('the examples type-check with tsc --strict and run', () => {
  for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts') || f === 'tsconfig.json')) {
    cpSync(join(EXAMPLES, file), join(project, file))
  }
  symlinkSync(join(PACKAGE, 'node_modules', '@types'), join(project, 'node_modules', '@types'))
  const tsc = spawnSync(process.execPath, [join(PACKAGE, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { encoding: 'utf8' })
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr)

  const parsed = run(join('out', 'parse_log.js'), [join(FIXTURES, 'parsers', 'tsc', 'config-npm', 'log.txt')])
  assert.equal(parsed.status, 1, parsed.stderr)
  assert.match(parsed.stdout, /2 diagnostics: 2 configuration\n$/)

  const healed = run(join('out', 'own_model.js'))
  assert.equal(healed.status, 0, healed.stdout + healed.stderr)
  assert.match(healed.stdout, /^healed: 1 request\(s\), 350 tokens in\n/)
})
