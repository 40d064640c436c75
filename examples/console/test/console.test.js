'use strict'
// The console end to end, in real headless Chromium (Debian's, driven by playwright-core): the
// page heals a bundled broken project and shows the streamed output, the fix with its source
// and diff, and the "healed" outcome; a run is cancelled from the page. Screenshots are kept
// in SELFHEAL_ARTIFACTS (default: test-artifacts/ here).

const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { existsSync, mkdirSync, mkdtempSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')
const { after, before, test } = require('node:test')

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const ARTIFACTS = process.env.SELFHEAL_ARTIFACTS || join(__dirname, '..', 'test-artifacts')

const consoles = []
let url
let browser
const cache = mkdtempSync(join(tmpdir(), 'selfheal-console-test-'))

/** Starts a console on a free port (with a model when `model` has env vars); resolves with its address. */
function startConsole(model = {}) {
  const env = { ...process.env, SELFHEAL_CACHE_DIR: mkdtempSync(join(cache, 'run-')) }
  for (const name of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'OPENAI_BASE_URL', 'GEMINI_API_KEY']) delete env[name]
  const server = spawn(process.execPath, [join(__dirname, '..', 'server.js'), '--port', '0'], { env: { ...env, ...model } })
  consoles.push(server)
  return new Promise((resolve, reject) => {
    let seen = ''
    server.stdout.on('data', (chunk) => {
      seen += chunk
      const found = /http:\/\/127\.0\.0\.1:\d+/.exec(seen)
      if (found) resolve(found[0])
    })
    server.on('exit', (code) => reject(new Error(`the console exited (${code}): ${seen}`)))
  })
}

before(async () => {
  if (!existsSync(CHROMIUM)) return
  url = await startConsole()
  const { chromium } = require('playwright-core')
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  mkdirSync(ARTIFACTS, { recursive: true })
})

after(async () => {
  await browser?.close()
  for (const server of consoles) server.kill()
  rmSync(cache, { recursive: true, force: true })
})

function needsChromium(t) {
  if (existsSync(CHROMIUM)) return false
  // Only a developer's machine may lack it: in CI its absence is a failure.
  assert.ok(!process.env.CI, `CI must run the console test: no ${CHROMIUM}`)
  t.skip(`no ${CHROMIUM} (apt install chromium)`)
  return true
}

test('a broken project is healed live: output streams, the fix shows with its diff, the outcome is healed', async (t) => {
  if (needsChromium(t)) return
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  await page.goto(url)
  await page.selectOption('#project', 'greeting')
  await page.click('#heal')
  await page.waitForSelector('#outcome.healed', { timeout: 60_000 })

  const output = await page.locator('#output .line').allTextContents()
  assert.ok(output.some((line) => line.includes("NameError: name 'greting' is not defined")), output.join('\n'))
  assert.ok(await page.locator('#output .line.error').count() > 0, 'errors are highlighted')
  const diagnostics = await page.locator('#diagnostics li.diagnostic').allTextContents()
  assert.ok(diagnostics.some((d) => d.includes("name 'greting' is not defined")), diagnostics.join('\n'))
  const fixes = await page.locator('#fixes .fix').allTextContents()
  assert.equal(fixes.length, 1, fixes.join('\n'))
  assert.match(fixes[0], /from the fixer/)
  assert.match(fixes[0], /\+\s+print\(greeting\)/)
  assert.equal(await page.locator('#outcome').textContent(), 'healed')
  await page.screenshot({ path: join(ARTIFACTS, 'console-healed.png'), fullPage: true })
  await page.close()
})

test('the cancel button stops a run and says so', async (t) => {
  if (needsChromium(t)) return
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  await page.goto(url)
  await page.selectOption('#project', 'ledger')
  await page.click('#heal')
  // Cancelled while its first build (a cargo build) runs.
  await page.waitForSelector('#output .line.step', { timeout: 30_000 })
  await page.click('#cancel')
  await page.waitForSelector('#outcome.cancelled', { timeout: 60_000 })
  assert.equal(await page.locator('#outcome').textContent(), 'cancelled')
  assert.ok(await page.locator('#heal').isEnabled())
  await page.screenshot({ path: join(ARTIFACTS, 'console-cancelled.png'), fullPage: true })
  await page.close()
})

test('with a model: its reply streams in, a fix that fixes nothing is rolled back, tokens and cost show', async (t) => {
  if (needsChromium(t)) return
  const { OpenAIServer, sseCompletion } = require('../../../crates/node/test/support')
  const model = await new OpenAIServer().start()
  t.after(() => model.close())
  const fix = (replace) => JSON.stringify({ analysis: 'the name is misspelled', fixes: [{ file: 'main.py', action: 'patch', search: '    print(mesage)', replace }] })
  model.replies.push(sseCompletion(`First try:\n\`\`\`json\n${fix('    print(mesage.upper())')}\n\`\`\``))
  model.replies.push(sseCompletion(`Second try:\n\`\`\`json\n${fix('    print(mesage_text)')}\n\`\`\``))
  const withModel = await startConsole({ OPENAI_BASE_URL: model.baseURL, OPENAI_API_KEY: 'sk-console-test' })

  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  await page.goto(withModel)
  assert.match(await page.locator('#model').textContent(), /openai/)
  await page.selectOption('#project', 'typo')
  await page.click('#heal')
  await page.waitForSelector('#outcome.healed', { timeout: 60_000 })

  const fixes = page.locator('#fixes .fix')
  assert.equal(await fixes.count(), 2)
  assert.match(await fixes.nth(0).textContent(), /from the llm[\s\S]*rolled back: fixed nothing/)
  assert.ok(await fixes.nth(0).evaluate((card) => card.classList.contains('rolled-back')))
  assert.match(await fixes.nth(1).textContent(), /\+\s+print\(mesage_text\)/)
  assert.match(await page.locator('#reply').textContent(), /Second try/)
  assert.match(await page.locator('#usage').textContent(), /2 calls: 180 \+ 66 tokens, \$0\.\d{4}/)
  assert.equal(model.requests.length, 2)
  await page.screenshot({ path: join(ARTIFACTS, 'console-model.png'), fullPage: true })
  await page.close()
})
