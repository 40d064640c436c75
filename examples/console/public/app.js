'use strict'
// The console page: starts a heal and draws its events as they arrive.

const $ = (id) => document.getElementById(id)
let source = null
let run = null
let spent = { calls: 0, input: 0, output: 0, usd: 0 }

function add(parent, tag, className, text) {
  const element = document.createElement(tag)
  if (className) element.className = className
  if (text !== undefined) element.textContent = text
  parent.appendChild(element)
  return element
}

function line(text, className) {
  const output = $('output')
  add(output, 'div', `line ${className || ''}`, text)
  output.scrollTop = output.scrollHeight
}

function step(text) {
  add($('timeline'), 'li', '', text)
}

function setOutcome(outcome) {
  $('outcome').className = outcome
  $('outcome').textContent = outcome.replace('_', ' ')
}

const ERROR = /(Error|error)\b|Traceback|^E\d{3,}/

const handlers = {
  run_started: (e) => step(`run started: ${e.steps.join(', ')}`),
  step_started: (e) => line(`▶ attempt ${e.attempt}: ${e.step}`, 'step'),
  output_line: (e) => line(e.line, `${e.stream}${ERROR.test(e.line) ? ' error' : ''}`),
  step_finished: (e) =>
    line(`${e.success ? '✓' : '✗'} ${e.step} (${e.duration} ms)`, e.success ? 'passed' : 'error'),
  diagnostics: (e) => {
    const group = add($('diagnostics'), 'li', 'attempt', `build ${e.attempt}: `)
    if (e.diagnostics.length === 0) add(group, 'span', 'clean', 'no errors')
    const list = add(group, 'ul')
    for (const d of e.diagnostics) {
      const item = add(list, 'li', `diagnostic ${d.severity}`)
      const where = [d.file, d.line].filter((x) => x != null).join(':')
      if (where) add(item, 'span', 'where', `${where} `)
      add(item, 'span', '', `[${d.tool}${d.code ? ` ${d.code}` : ''} · ${d.category}] ${d.message}`)
    }
    step(`build ${e.attempt}: ${e.diagnostics.length} diagnostics`)
  },
  fixer_applied: (e) => step(`fixer ${e.fixer} offers a fix (${e.safety})`),
  cache_hit: (e) => step(`cache hit: fix #${e.fix} (score ${e.score.toFixed(2)})`),
  cache_miss: () => step('cache miss'),
  llm_request: (e) => {
    step(`asking ${e.provider} (~${e.estimatedTokens} tokens)`)
    $('reply').textContent = ''
  },
  llm_delta: (e) => {
    $('reply').textContent += e.text
  },
  llm_response: (e) => {
    spent = {
      calls: spent.calls + 1,
      input: spent.input + e.usage.inputTokens,
      output: spent.output + e.usage.outputTokens,
      usd: spent.usd + (e.costUsd || 0),
    }
    const calls = spent.calls === 1 ? '1 call' : `${spent.calls} calls`
    $('usage').textContent = `${e.provider} ${e.model}, ${calls}: ${spent.input} + ${spent.output} tokens, $${spent.usd.toFixed(4)}`
  },
  fix_applied: (e) => {
    const card = add($('fixes'), 'div', 'fix')
    card.dataset.attempt = e.attempt
    add(card, 'div', 'source', `attempt ${e.attempt}: from the ${e.source}${e.by ? ` (${e.by})` : ''} — ${e.files.join(', ')}`)
    const diff = add(card, 'pre', 'diff')
    for (const row of e.diff.split('\n')) {
      const kind = row.startsWith('+') && !row.startsWith('+++') ? 'add' : row.startsWith('-') && !row.startsWith('---') ? 'del' : ''
      add(diff, 'div', kind, row)
    }
    step(`fix applied from the ${e.source}`)
  },
  fix_rolled_back: (e) => {
    const card = document.querySelector(`.fix[data-attempt="${e.attempt}"]`)
    if (card) {
      card.classList.add('rolled-back')
      add(card, 'div', 'why', `rolled back: ${e.reason}`)
    }
    step(`rolled back: ${e.reason}`)
  },
  attempt_finished: (e) => step(`attempt ${e.attempt}: ${e.fixed} fixed, ${e.new} new, ${e.persisting} left`),
  backoff: (e) => step(`waiting ${e.delay} ms`),
  fallback: (e) => step(`fallback: ${e.strategy}`),
  healed: (e) => step(e.alreadyGreen ? 'already green' : `healed after ${e.attempts} builds`),
  escalated: (e) => step(`escalated: ${JSON.stringify(e.reason)}`),
  failed: (e) => step(`failed: ${e.reason}`),
  cancelled: () => step('cancelled'),
}

function finish(outcome) {
  setOutcome(outcome)
  $('heal').disabled = false
  $('cancel').disabled = true
  if (source) source.close()
  source = null
}

async function startRun(event) {
  event.preventDefault()
  for (const id of ['output', 'diagnostics', 'timeline', 'fixes', 'reply']) $(id).replaceChildren()
  $('usage').textContent = 'no model call'
  spent = { calls: 0, input: 0, output: 0, usd: 0 }
  const response = await fetch('/api/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ project: $('project').value }),
  })
  run = (await response.json()).id
  setOutcome('running')
  $('heal').disabled = true
  $('cancel').disabled = false
  source = new EventSource(`/api/runs/${run}/events`)
  source.addEventListener('event', (message) => {
    const data = JSON.parse(message.data)
    const handle = handlers[data.kind]
    if (handle) handle(data)
  })
  source.addEventListener('report', (message) => {
    const report = JSON.parse(message.data)
    step(`report: ${report.outcome} in ${(report.duration / 1000).toFixed(1)} s`)
    finish(report.outcome)
  })
  source.addEventListener('failure', (message) => {
    step(`error: ${JSON.parse(message.data).message}`)
    finish('failed')
  })
}

async function main() {
  const { projects, model } = await (await fetch('/api/projects')).json()
  for (const project of projects) {
    const option = add($('project'), 'option', '', project.title)
    option.value = project.id
  }
  $('model').textContent = model ? `model: ${model}` : 'no model: fixers and cache only'
  $('start').addEventListener('submit', startRun)
  $('cancel').addEventListener('click', () => fetch(`/api/runs/${run}/cancel`, { method: 'POST' }))
}

main()
