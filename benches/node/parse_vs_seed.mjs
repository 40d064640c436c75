// `parse` against a JavaScript implementation of the seed's ErrorParser (seed 000 §3.4.2: one
// regex list per category, each pattern over the whole output, and for every match a location
// regex over the whole output), on the same 10 MB log in the same process; the same against a
// faster variant of the seed that only looks for a location in the 200 characters after a
// match; and the per-call overhead of `parse` on a one-line log.
//
//   (cd crates/node && npm run build) && node benches/node/parse_vs_seed.mjs [MB]
//
// The log interleaves every fixture log under tests/fixtures/parsers with the noise real builds
// print between errors (npm progress rewritten with \r, cargo `Compiling`, passing tests,
// bundler asset lines, BuildKit steps), as benches/parse.rs does.

import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

const REPO = new URL('../..', import.meta.url).pathname
const { parse } = createRequire(import.meta.url)(join(REPO, 'crates', 'node'))

const SEED_PATTERNS = {
  dependency: [/Cannot find module ['"]([^'"]+)['"]/, /Module not found: Error: Can't resolve ['"]([^'"]+)['"]/,
    /npm ERR! peer dep missing: ([^,]+)/, /ERESOLVE unable to resolve dependency tree/, /node-gyp rebuild failed/,
    /Could not resolve dependency/, /ENOENT: no such file or directory.*node_modules/],
  syntax: [/SyntaxError: (.+) at line (\d+)/, /Unexpected token (.+)/, /Parsing error: (.+)/, /error: Expected (.+) but found (.+)/],
  type: [/Type ['"]([^'"]+)['"] is not assignable to type ['"]([^'"]+)['"]/,
    /Property ['"]([^'"]+)['"] does not exist on type ['"]([^'"]+)['"]/, /Cannot read propert(y|ies) of (undefined|null)/,
    /TS\d+: (.+)/, /Argument of type ['"]([^'"]+)['"] is not assignable/],
  runtime: [/Error: Cannot find module ['"]([^'"]+)['"]/, /ReferenceError: (.+) is not defined/,
    /Error: ENOENT: no such file or directory/, /EACCES: permission denied/, /Missing required environment variable: (\w+)/],
  resource: [/FATAL ERROR: (.+) JavaScript heap out of memory/, /ENOMEM/, /ENOSPC: no space left on device/,
    /Build killed - out of memory/, /error: timeout/i],
  configuration: [/Invalid configuration object/, /Configuration error:/, /Error in (.+\.config\.(js|ts|json))/, /tsconfig\.json.*error/i],
  network: [/ETIMEDOUT/, /ECONNREFUSED/, /EAI_AGAIN/, /npm ERR! network/, /getaddrinfo ENOTFOUND/, /401 Unauthorized/, /403 Forbidden/],
}
const LOCATION = String.raw`(\S+\.(ts|tsx|js|jsx)):(\d+)(?::(\d+))?`
const escapeRegex = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * The seed's ErrorParser as written: every pattern over the whole output, and for every match
 * the location regex `escape(match) [\s\S]{0,200}? file:line` searched in the whole output. The
 * seed's unspecified helpers (code snippet, stack trace, suggestions) are left out, which only
 * makes it faster.
 */
class SeedParser {
  locate(output, match) {
    return output.match(new RegExp(`${escapeRegex(match[0])}[\\s\\S]{0,200}?${LOCATION}`))
  }

  parse(output) {
    const errors = []
    for (const [category, patterns] of Object.entries(SEED_PATTERNS)) {
      for (const pattern of patterns) {
        for (const match of output.matchAll(new RegExp(pattern, 'gm'))) {
          const location = this.locate(output, match)
          errors.push({ category, message: match[0], file: location?.[1], line: location ? Number(location[3]) : undefined })
        }
      }
    }
    const seen = new Set()
    return errors.filter((error) => {
      const key = `${error.category}\0${error.message}`
      return seen.has(key) ? false : (seen.add(key), true)
    })
  }
}

/** The seed with its location search narrowed to the 200 characters after each match. */
class WindowedSeedParser extends SeedParser {
  locate(output, match) {
    const end = match.index + match[0].length
    return output.slice(end, end + 200).match(new RegExp(LOCATION))
  }
}

function* random(seed) {
  let state = BigInt(seed)
  for (;;) {
    state ^= state << 13n; state &= (1n << 64n) - 1n
    state ^= state >> 7n
    state ^= state << 17n; state &= (1n << 64n) - 1n
    yield state
  }
}

function assembleLog(megabytes) {
  const root = join(REPO, 'tests', 'fixtures', 'parsers')
  const logs = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory())
    .flatMap((tool) => readdirSync(join(root, tool.name)).map((name) => join(root, tool.name, name, 'log.txt')))
    .filter(existsSync).sort().map((file) => readFileSync(file, 'utf8'))
  const rng = random(0x9e3779b97f4a7c15n)
  const below = (n) => Number(rng.next().value % BigInt(n))
  const hex = () => rng.next().value.toString(16).padStart(16, '0')
  const noise = () => {
    const n = below(10_000)
    switch (below(8)) {
      case 0: return `\u2e28##########\u2e29 \u2807 reify:lodash: timing reifyNode:node_modules/pkg-${n} Completed in ${n % 97}ms\r`
      case 1: return `   Compiling crate-${n} v0.${n % 9}.${n % 31} (registry+https://github.com/rust-lang/crates.io-index)`
      case 2: return `test tests::case_${n} ... ok`
      case 3: return `tests/test_module_${n % 50}.py::test_feature_${n} PASSED                          [${String(n % 100).padStart(3)}%]`
      case 4: return `asset chunk-${n}.js ${n % 300}.${n % 10} KiB [emitted] [minimized] (name: chunk-${n})`
      case 5: return `#${n % 40} sha256:${hex()}${hex()}`
      case 6: return `  \u2713 renders component ${n} (${n % 40}ms)`
      default: return `[${String(n % 24).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}] Starting 'build:${n}'...`
    }
  }
  const parts = []
  let size = 0
  while (size < megabytes * 1e6) {
    const lines = Array.from({ length: 40 + below(160) }, noise)
    const chunk = `${lines.join('\n')}\n${logs[below(logs.length)].replace(/\n+$/, '')}\n`
    parts.push(chunk)
    size += Buffer.byteLength(chunk)
  }
  return parts.join('')
}

function bestOf(runs, work) {
  let best = Infinity
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    work()
    best = Math.min(best, performance.now() - start)
  }
  return best
}

const megabytes = Number(process.argv[2] ?? 10)
const log = assembleLog(megabytes)
const bytes = Buffer.from(log)
const size = bytes.length / 1e6
const ours = bestOf(5, () => parse(log))
const oursBuffer = bestOf(5, () => parse(bytes))
console.log(`log: ${size.toFixed(1)} MB; parse: ${parse(log).length} diagnostics`)
console.log(`parse (string)                   ${ours.toFixed(1).padStart(9)} ms  (${(size / ours * 1000).toFixed(1).padStart(7)} MB/s)`)
console.log(`parse (Buffer)                   ${oursBuffer.toFixed(1).padStart(9)} ms  (${(size / oursBuffer * 1000).toFixed(1).padStart(7)} MB/s)`)
for (const [name, seed] of [['seed parser (JavaScript)', new SeedParser()], ['seed, windowed location', new WindowedSeedParser()]]) {
  const theirs = bestOf(3, () => seed.parse(log))
  console.log(`${name.padEnd(32)} ${theirs.toFixed(1).padStart(9)} ms  (${(size / theirs * 1000).toFixed(1).padStart(7)} MB/s), ` +
    `${seed.parse(log).length} matches: parse is ${(theirs / ours).toFixed(1)}x faster`)
}
const line = "src/app.ts(12,3): error TS2322: Type 'string' is not assignable to type 'number'.\n"
const calls = 20_000
const perCall = (text) => bestOf(5, () => { for (let i = 0; i < calls; i++) parse(text) }) / calls * 1000
console.log(`parse, one-line log with one diagnostic: ${perCall(line).toFixed(1)} µs/call; one line, none: ${perCall('ok\n').toFixed(1)} µs/call`)
