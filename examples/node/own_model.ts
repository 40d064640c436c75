// Heals a small broken Python project with a model client of your own: any object with
// `complete(request)` is a provider. Here the "model" answers with the fix it would write.
//
//   npx tsc && node out/own_model.js

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Healer, type HostProvider, type ProviderReply, type ProviderRequest } from 'selfheal'

class HouseModel implements HostProvider {
  readonly name = 'house-model'
  readonly model = 'house-1'
  readonly prompts: string[] = []

  async complete(request: ProviderRequest): Promise<ProviderReply> {
    this.prompts.push(request.messages.at(-1)?.content ?? '')
    const fix = {
      file: 'report.py',
      action: 'patch',
      search: '    return "total: " + sum(items)',
      replace: '    return "total: " + str(sum(items))',
    }
    return { text: JSON.stringify({ analysis: 'an int added to a str', fixes: [fix] }), usage: { inputTokens: 350, outputTokens: 60 } }
  }
}

async function main(): Promise<number> {
  const project = mkdtempSync(join(tmpdir(), 'selfheal-own-model-'))
  writeFileSync(join(project, 'report.py'), 'def total(items):\n    return "total: " + sum(items)\n\n\nprint(total([1, 2, 3]))\n')
  const model = new HouseModel()
  const healer = new Healer({ provider: model, config: { backoff: 0 } })
  const report = await healer.heal(project, ['python3 report.py'])
  console.log(`${report.outcome}: ${model.prompts.length} request(s), ${report.usage.inputTokens} tokens in`)
  console.log(report.attempts.at(-1)?.diff ?? '')
  return report.outcome === 'healed' ? 0 : 1
}

main().then((code) => {
  process.exitCode = code
})
