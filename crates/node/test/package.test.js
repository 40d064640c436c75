'use strict'
// The package as a user gets it: the tarballs scripts/package packed (the main package and this
// platform's prebuilt addon) installed by `npm install` into a fresh project, with no Rust
// toolchain on PATH and no install script; `require` and `import`; the typed examples compiled
// with `tsc --strict` and run. scripts/test sets SELFHEAL_DIST to the folder they were packed into.

const assert = require('node:assert/strict')
const { execFileSync, spawnSync } = require('node:child_process')
const { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { delimiter, join } = require('node:path')
const { after, before, test } = require('node:test')

const { FIXTURES, REPO } = require('./support')

const PACKAGE = join(__dirname, '..')
const EXAMPLES = join(REPO, 'examples', 'node')
const DIST = process.env.SELFHEAL_DIST
const { version } = require('../package.json')

/** This environment with every folder that holds cargo or rustc taken off PATH. */
const WITHOUT_RUST = {
  ...process.env,
  PATH: process.env.PATH.split(delimiter)
    .filter((dir) => !['cargo', 'rustc'].some((tool) => existsSync(join(dir, tool))))
    .join(delimiter),
}

let project

before(() => {
  if (!DIST) return
  project = mkdtempSync(join(tmpdir(), 'selfheal-npm-'))
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
  const tarballs = readdirSync(DIST).filter((f) => f.startsWith('selfheal-') && f.endsWith(`${version}.tgz`))
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs.map((f) => join(DIST, f))],
    { cwd: project, stdio: 'pipe', env: WITHOUT_RUST })
})

after(() => project && rmSync(project, { recursive: true, force: true }))

/** Skips `t` (visibly; in CI it fails) when there are no packed tarballs to install. */
function packed(t) {
  if (DIST) return true
  assert.ok(!process.env.CI, 'CI must test the packed packages: SELFHEAL_DIST is not set')
  t.skip('SELFHEAL_DIST is not set (scripts/test packs the packages into it)')
  return false
}

function run(file, args = []) {
  return spawnSync(process.execPath, [file, ...args], { cwd: project, encoding: 'utf8', timeout: 60_000, env: WITHOUT_RUST })
}

test('the tarballs install without a Rust toolchain or an install script and load the prebuilt addon', (t) => {
  if (!packed(t)) return
  assert.equal(spawnSync('cargo', ['--version'], { env: WITHOUT_RUST }).error?.code, 'ENOENT')
  const installed = join(project, 'node_modules')
  const main = JSON.parse(readFileSync(join(installed, 'selfheal', 'package.json'), 'utf8'))
  const platforms = Object.keys(main.optionalDependencies)
  assert.ok(platforms.length >= 1, 'the main package names its platform packages')
  for (const name of ['selfheal', ...platforms.filter((p) => existsSync(join(installed, p)))]) {
    const { scripts = {} } = JSON.parse(readFileSync(join(installed, name, 'package.json'), 'utf8'))
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      assert.equal(scripts[hook], undefined, `${name} has no ${hook} script`)
    }
  }
  assert.deepEqual(readdirSync(join(installed, 'selfheal')).filter((f) => f.endsWith('.node')), [], 'no addon in the main package')
  const addon = spawnSync(process.execPath,
    ['-e', "require('selfheal'); console.log(Object.keys(require.cache).find((f) => f.endsWith('.node')))"],
    { cwd: project, encoding: 'utf8', env: WITHOUT_RUST })
  assert.equal(addon.status, 0, addon.stderr)
  assert.match(addon.stdout, /node_modules\/selfheal-[a-z0-9-]+\/selfheal\.[a-z0-9-]+\.node\n$/)
})

test('a fresh project can require and import the package', (t) => {
  if (!packed(t)) return
  writeFileSync(join(project, 'cjs.js'), "const { Healer, parse, Diagnostic, SelfHealError } = require('selfheal')\nconsole.log(typeof Healer, typeof parse, typeof Diagnostic, typeof SelfHealError)\n")
  writeFileSync(join(project, 'esm.mjs'), "import { Healer, parse, recoverJson, SelfHealError } from 'selfheal'\nimport selfheal from 'selfheal'\nconsole.log(typeof Healer, typeof parse, typeof recoverJson, typeof SelfHealError, typeof selfheal.parse)\n")
  assert.equal(run('cjs.js').stdout, 'function function function function\n')
  assert.equal(run('esm.mjs').stdout, 'function function function function function\n')
})

test('the examples type-check with tsc --strict against the installed types and run', (t) => {
  if (!packed(t)) return
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
