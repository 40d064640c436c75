// Parses a build log (a file, or standard input) and prints its diagnostics, errors first.
//
//   npx tsc && node out/parse_log.js build.log
//
// Exits 1 when the log holds an error, like a build that failed.

import { readFileSync } from 'node:fs'
import { parse, type Diagnostic } from 'selfheal'

function describe(d: Diagnostic): string {
  const where = d.location ?? '(no location)'
  const code = d.code ? ` ${d.code}` : ''
  return `${d.severity}${code} [${d.category}/${d.subcategory}] ${where}: ${d.message}`
}

const log = readFileSync(process.argv[2] ?? 0)
const diagnostics = parse(log)
const byCategory = new Map<string, number>()
for (const d of diagnostics) {
  byCategory.set(d.category, (byCategory.get(d.category) ?? 0) + 1)
  console.log(describe(d))
}
const summary = [...byCategory].map(([category, count]) => `${count} ${category}`).join(', ')
console.log(`${diagnostics.length} diagnostics${summary ? `: ${summary}` : ''}`)
process.exitCode = diagnostics.some((d) => d.severity !== 'warning') ? 1 : 0
