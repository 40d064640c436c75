export * from './native'
import type { Anthropic, CompleteOptions, Completion, DockerBuilder, FixCache, HealthMonitor, LocalBuilder, Gemini, HealConfig, HealEvent, HealReport, HostParser, OpenAI, StepFields } from './native'

/** The kind of a `SelfHealError`. */
export type ErrorCode =
  | 'E_PROVIDER'
  | 'E_BUDGET'
  | 'E_BUILD'
  | 'E_CONFIG'
  | 'E_CACHE'
  | 'E_WORKSPACE'
  | 'E_IO'
  | 'E_CANCELLED'
  | 'E_JSON_NOT_FOUND'
  | 'E_JSON_TOO_DEEP'

/** Every error selfheal throws; `code` tells the kind. A build that stays red is not an error: it is a report. */
export declare class SelfHealError extends Error {
  readonly code: ErrorCode
  constructor(message: string, code: ErrorCode, options?: ErrorOptions)
}

/** What a provider written in JavaScript receives. */
export interface ProviderRequest {
  system: string | null
  messages: Array<{ role: 'user' | 'assistant'; content: string }>
  model: string
  maxTokens: number
}

/** What a provider written in JavaScript returns: the reply text, or the text with its usage. */
export type ProviderReply = string | { text: string; usage?: { inputTokens?: number; outputTokens?: number } }

/** Any object with `complete(request)` is a provider; `name` and `model` show in reports. */
export interface HostProvider {
  name?: string
  model?: string
  complete(request: ProviderRequest): ProviderReply | Promise<ProviderReply>
}

/** What a builder written in JavaScript returns for one step. */
export interface StepResult {
  exitCode: number
  /** All of the output (or `stdout` and `stderr`). */
  output?: string
  stdout?: string
  stderr?: string
  timedOut?: boolean
}

/** Any object with `run(step, workspace)` is a builder: it runs one step in the workspace folder. */
export interface HostBuilder {
  name?: string
  run(step: { name: string; command: unknown; timeout?: number | null } & Record<string, unknown>, workspace: string): StepResult | Promise<StepResult>
}

/** A `Fallback` chain may hold providers of your own too. */
export declare class Fallback {
  constructor(providers: Array<Anthropic | OpenAI | Gemini | Fallback | HostProvider>)
  readonly name: string
  readonly model: string
  complete(prompt: string, options?: CompleteOptions): Promise<Completion>
}

export interface HealerOptions {
  /** A built-in provider or your own; none: deterministic fixers and the cache only. */
  provider?: Anthropic | OpenAI | Gemini | Fallback | HostProvider
  /** `LocalBuilder` (the default), `DockerBuilder`, or your own. */
  builder?: LocalBuilder | DockerBuilder | HostBuilder
  cache?: FixCache
  config?: HealConfig
  /** Deterministic fixers by name, in order (default: `defaultFixers()`). */
  fixers?: string[]
  /** Error parsers of your own, next to the built-in ones: each gets every build's cleaned log. */
  customFormats?: HostParser[]
  /** Called with the report of a run that escalates, before `heal` resolves with it. */
  onEscalation?: (report: HealReport) => unknown
  /** Counts every finished run (see `HealthMonitor`). */
  monitor?: HealthMonitor
}

export interface HealOptions {
  /** Cancels the run: the attempt in progress is undone and the outcome is `cancelled`. */
  signal?: AbortSignal
  /** Called with each event as it happens; an error it throws stops the run. */
  onEvent?: (event: HealEvent) => unknown
}

/**
 * The heal loop: build, read the errors, fix (deterministic fixers, then the fix cache, then
 * the model), apply safely, rebuild — until the build is green or nothing is left to try.
 */
export declare class Healer {
  constructor(options?: HealerOptions)
  /**
   * Heals `workspace` so that `steps` pass. An error thrown by a callback stops the run and
   * rejects with that same error.
   */
  heal(workspace: string, steps: Array<string | StepFields>, options?: HealOptions): Promise<HealReport>
  /** The run's events as an async iterable; `report` resolves once they end. */
  stream(workspace: string, steps: Array<string | StepFields>, options?: { signal?: AbortSignal }): HealStream
}

/** The events of one run. Leaving the loop early cancels the run. */
export declare class HealStream implements AsyncIterable<HealEvent> {
  readonly report: Promise<HealReport>
  cancel(): void
  [Symbol.asyncIterator](): AsyncIterator<HealEvent>
}
