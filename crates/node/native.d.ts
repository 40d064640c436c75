/** The family of an error. */
export type Category =
  | 'dependency' | 'syntax' | 'type' | 'runtime' | 'resource' | 'configuration' | 'network' | 'unknown'

/** How bad a diagnostic is. */
export type Severity = 'critical' | 'error' | 'warning'

/** One frame of a stack trace. */
export interface StackFrame {
  file?: string | null
  line?: number | null
  column?: number | null
  function?: string | null
}

/** A machine-applicable edit a tool suggested (1-based positions). */
export interface Fixit {
  message: string
  file?: string | null
  edit:
    | { kind: 'span'; line: number; column: number; endLine: number; endColumn: number; replacement: string }
    | { kind: 'lines'; line: number; endLine: number; original?: string | null; replacement: string }
    | { kind: 'word'; line: number; original: string; replacement: string }
}

/** Every field of a `Diagnostic`, as `toJSON()` writes them. */
export interface DiagnosticFields {
  tool?: string
  category?: Category
  subcategory?: string
  severity?: Severity
  code?: string | null
  message: string
  file?: string | null
  line?: number | null
  column?: number | null
  endLine?: number | null
  endColumn?: number | null
  snippet?: string | null
  stack?: StackFrame[]
  fixits?: Fixit[]
  notes?: string[]
  suggestions?: string[]
  confidence?: number
  logLines?: { start: number; end: number }
  fingerprint?: string
}

/** A parser of your own: `parse` gets the whole cleaned log and returns what it found. */
export interface HostParser {
  name?: string
  parse(log: string): DiagnosticFields[]
}

/**
 * A log format of your own, as a pattern: `regex` with named groups (`file`, `line`, `column`,
 * `message`, `severity`, `code`), matched on each cleaned line.
 */
export interface CustomFormat {
  name: string
  regex: string
  category: Category
  subcategory?: string
  severity?: Severity
  tool?: string
  zeroBasedColumns?: boolean
  triggers?: string[]
}

/** The project a fix was made in; fixes from similar projects rank first. */
export interface FixContext {
  language?: string | null
  framework?: string | null
  /** Package name to version. */
  dependencies?: Record<string, string>
}

/** A fix the cache holds: the error it fixed, its edits and how it has done since. */
export interface CachedFix {
  id: number
  signature: Record<string, unknown>
  example: string
  context: FixContext
  /** The fix as applied: `edits` (each with a `path`) and the model's `analysis`. */
  proposal: { edits: Array<{ path: string } & Record<string, unknown>> } & Record<string, unknown>
  stats: Record<string, number | null>
  deprecated: boolean
}

/** What `FixCache.lookup` found: the fix, how it matched and why it ranked first. */
export interface CacheHit {
  fix: CachedFix
  matched: 'exact' | 'similar'
  score: { total: number; similarity: number; successRate: number; recency: number; useCount: number; context: number }
}

/** Retry settings over the defaults (5 attempts, 1 s base delay ×2, 60 s cap, 10 % jitter); seconds. */
export interface RetryOptions {
  maxAttempts?: number
  baseDelay?: number
  multiplier?: number
  maxDelay?: number
  jitter?: number
  maxRetryAfter?: number
}

/** Circuit breaker settings over the defaults (open after 5 failures, probe after 60 s); seconds. */
export interface BreakerOptions {
  failureThreshold?: number
  resetTimeout?: number
}

/** A model's answer. */
export interface Completion {
  text: string
  usage: { inputTokens: number; outputTokens: number }
  model: string
  provider: string
  stopReason: string
  latencyMs: number
}

/** A build step: a shell line, or its fields. */
export interface StepFields {
  /** A shell line, or a program and its arguments (run without a shell). */
  command: string | string[]
  /** The name in reports (default: the program's). */
  name?: string
  /** Seconds the step may run. */
  timeout?: number
  env?: Record<string, string>
  /** The folder to run in, relative to the workspace. */
  cwd?: string
  continueOnFailure?: boolean
}

/** Heal settings over the defaults (5 attempts, 300 s); durations in seconds. */
export interface HealConfig {
  maxAttempts?: number
  timeout?: number
  maxTokens?: number
  maxUsd?: number
  /** Attempts in a row that fix nothing before the run escalates. */
  stuckAfter?: number
  /** Keep fixes that fixed some errors when the run does not end green. */
  keepPartial?: boolean
  backoff?: number
  maxBackoff?: number
  jitterSeed?: number
  context?: FixContext
  fixerSafety?: 'safe' | 'likely' | 'unsafe'
  /** Protected classes of files fixes may change (default: none). */
  allow?: Array<'tests' | 'ci' | 'build-scripts'>
  /** Edits one fix may hold (default 100). */
  maxEdits?: number
  /** Bytes a file a fix edits may have (default 4 MiB). */
  maxFileBytes?: number
  /** Bytes of text one fix's edits may hold (default 8 MiB). */
  maxProposalBytes?: number
  /** Bytes of a model's reply read at most (default 2 MiB); a longer reply is cut off and unusable. */
  maxReplyBytes?: number
  /** Steps that must pass too once the plan passes; no fix may change the files they name, nor tests. */
  verify?: Array<string | StepFields>
  /** Whether fixes may install packages (default true: only what the source imports, scripts off, pip only into the project's virtualenv); false runs no package manager. */
  install?: boolean
  /** The virtualenv pip installs into (default: the project's `.venv` or `venv`). */
  pythonEnv?: string
}

/** An edit (or a whole fix, without `path`) the edit policy refused, and the rule. */
export interface Refusal {
  path: string | null
  /** `version_control`, `uncovered`, `invisible_character`, `protected`, `too_many_edits`, `proposal_too_large`, `file_too_large`. */
  rule: string
  [field: string]: unknown
}

/** A package a fix installed, failed to install, or was refused. */
export interface Install {
  tool: 'npm' | 'pnpm' | 'yarn' | 'pip'
  package: string
  status: 'installed' | 'failed' | 'refused'
  /** For `installed`: the version resolved, when it could be read back. */
  version?: string | null
  /** For `refused`: why. */
  reason?: string
}

/** How a heal run ended. */
export type Outcome = 'healed' | 'healed_with_changed_plan' | 'already_green' | 'escalated' | 'failed' | 'cancelled'

/** One attempt of a run, the first build included. */
export interface AttemptReport {
  number: number
  /** Where the fix came from: `fixer`, `cache`, `llm` or `fallback` (null for the first build). */
  source: 'fixer' | 'cache' | 'llm' | 'fallback' | null
  by: string | null
  diff: string | null
  rolledBack: boolean
  applyError: string | null
  /** What the edit policy refused of the fix (nothing of it was written). */
  refused: Refusal[]
  /** Packages installed for the fix, or refused, or failed to install. */
  installs: Install[]
  errors: number
  new: number
  fixed: number
  persisting: number
  /** Milliseconds. */
  duration: number
}

/** What a heal run did and how it ended. */
export interface HealReport {
  outcome: Outcome
  attempts: AttemptReport[]
  /** The diagnostics of the last build. */
  diagnostics: DiagnosticFields[]
  /** The fixes that stayed. */
  fixes: Array<{ attempt: number; source: string; by: string | null; files: string[] }>
  usage: { inputTokens: number; outputTokens: number }
  costUsd: number
  /** For an escalated run: why, what is left, and what a person should do next. */
  escalation: { reason: string; diagnostics: DiagnosticFields[]; nextAction: string } | null
  /** The protected files the kept fixes changed, where the host allowed their class. */
  protectedChanges: Array<{ attempt: number; path: string; class: 'tests' | 'ci' | 'build-scripts' }>
  /** What fallbacks changed of the plan or the builder for the build to pass (outcome `healed_with_changed_plan`). */
  changedPlan: string[]
  /** Milliseconds. */
  duration: number
}

/**
 * One thing that happened during a heal run: `kind` names it (`run_started`, `step_started`,
 * `output_line`, `step_finished`, `diagnostics`, `fixer_applied`, `cache_hit`, `cache_miss`,
 * `llm_request`, `llm_delta`, `llm_switched`, `llm_response`, `package_install`, `fix_applied`, `fix_refused`, `fix_rolled_back`,
 * `attempt_finished`, `backoff`, `fallback`, and last `healed`, `escalated`, `failed` or
 * `cancelled`); the other fields depend on it.
 */
export interface HealEvent {
  kind: string
  [field: string]: unknown
}


/**
 * Which binding artifact the generated loader actually loaded: `'native'` for
 * a native addon, otherwise the `platformArchABI` of the WASI flavor. Every
 * flavor napi-rs can build is listed, because `NAPI_RS_NATIVE_LIBRARY_PATH`
 * can point the loader at a WASI artifact this package does not build itself.
 */
export declare const __napiBindingTarget: 'native' | 'wasm32-wasi' | 'wasm32-wasip1'

/**
 * r" Anthropic's Messages API. The key, base URL and model default to `ANTHROPIC_API_KEY`,
 * r" `ANTHROPIC_BASE_URL` and `ANTHROPIC_MODEL`.
 */
export declare class Anthropic {
  /** Throws `E_CONFIG` when the key is missing or an option is invalid. */
  constructor(options?: ProviderOptions | undefined | null)
  /** The name used in reports (`openai`, `fallback(anthropic, openai)`). */
  get name(): string
  /** The model used when a request names none. */
  get model(): string
  /**
   * Asks the model, through every layer; resolves to `{ text, usage: { inputTokens,
   * outputTokens }, model, provider, stopReason, latencyMs }`.
   */
  complete(prompt: string, options?: CompleteOptions | undefined | null): Promise<Completion>
}

/** One error or warning found in a build log. */
export declare class Diagnostic {
  /**
   * A diagnostic from the fields of `toJSON()`; `message` is required, the rest default
   * (tool `custom`, category `unknown`, severity `error`).
   */
  static fromJSON(fields: DiagnosticFields): Diagnostic
  /** The tool that reported it (`tsc`, `rustc`, `pytest`, …). */
  get tool(): string
  /** The family of the error. */
  get category(): Category
  /** The finer class (`missing_package`, `type_mismatch`, …). */
  get subcategory(): string
  /** How bad it is. */
  get severity(): Severity
  /** The tool's code (`TS2322`, `E0308`, `F401`), if any. */
  get code(): string | null
  /** The message, without location or severity. */
  get message(): string
  /** The file, relative to the project root when it is inside it. */
  get file(): string | null
  /** 1-based line. */
  get line(): number | null
  /** 1-based column. */
  get column(): number | null
  /** Last line of the span, when the tool gives one. */
  get endLine(): number | null
  /** Last column of the span, when the tool gives one. */
  get endColumn(): number | null
  /** The code frame the tool printed, if any. */
  get snippet(): string | null
  /** Stack frames (innermost last, as printed), for runtime errors and test failures. */
  get stack(): StackFrame[]
  /** Machine-applicable edits the tool suggested. */
  get fixits(): Fixit[]
  /** The tool's notes and help lines. */
  get notes(): Array<string>
  /** What usually fixes this kind of error. */
  get suggestions(): Array<string>
  /** How sure the classification is, 0 to 1. */
  get confidence(): number
  /** The log lines it came from, `{ start, end }` (1-based, inclusive). */
  get logLines(): { start: number; end: number }
  /**
   * A stable hash of what the error is (tool, code, normalized message, file), the same
   * across runs and machines.
   */
  get fingerprint(): string
  /** `file:line:column` (as much of it as is known). */
  get location(): string | null
  /** Every field, as a plain object (what `JSON.stringify` writes). */
  toJSON(): DiagnosticFields
}

/**
 * Runs each step in a fresh, locked-down container of an image (an unprivileged user, 4096 MiB
 * and 2 CPUs by default, no network unless asked). Connects to the engine at `DOCKER_HOST` or the local socket.
 */
export declare class DockerBuilder {
  /** Use `DockerBuilder.connect(image, options)`: connecting to the engine takes a moment. */
  static connect(image: string, options?: DockerOptions | undefined | null): Promise<DockerBuilder>
}

/** Providers tried in order: the next one answers when one fails. */
export declare class Fallback {
  /** Throws `E_CONFIG` when `providers` is empty. */
  constructor(providers: Array<Anthropic | OpenAI | Gemini | Fallback>)
  /** The name used in reports (`openai`, `fallback(anthropic, openai)`). */
  get name(): string
  /** The model used when a request names none. */
  get model(): string
  /**
   * Asks the model, through every layer; resolves to `{ text, usage: { inputTokens,
   * outputTokens }, model, provider, stopReason, latencyMs }`.
   */
  complete(prompt: string, options?: CompleteOptions | undefined | null): Promise<Completion>
}

/**
 * The fix cache in folder `dir` (default: `$SELFHEAL_CACHE_DIR`, else the platform's cache
 * folder), shared safely by processes. Give it to a `Healer` to reuse and learn fixes.
 *
 * With `url` (default: `$SELFHEAL_CACHE_URL`), a PostgreSQL database such as
 * `postgres://user@host/db`, the folder mirrors a fleet-wide cache: lookups stay local, what
 * this worker learns is uploaded in the background (queued while the server is down) and
 * what other workers learn arrives within moments.
 */
export declare class FixCache {
  /** Opens (or creates) the cache. Throws `E_CACHE` when the folder cannot be used. */
  constructor(dir?: string | undefined | null, url?: string | undefined | null)
  /**
   * Uploads what this worker learned to the fleet and pulls what the fleet learned, now
   * (the cache also does it by itself). Rejects with `E_CACHE` when the server cannot be
   * reached; nothing is lost, the next sync sends it. Without a fleet, catches up with
   * other processes sharing the folder.
   */
  sync(): Promise<void>
  /** The cache's folder. */
  get dir(): string
  /**
   * Figures: `fixes`, `deprecated`, `signatures`, `partitions`, `failedAttempts`, `uses`,
   * `successes`, `failures`, …
   */
  stats(): Promise<Record<string, unknown>>
  /**
   * The best cached fix for `diagnostic` (a `Diagnostic` or its fields), as `{ fix, matched,
   * score }` — or `null`. `context` (`{ language, framework, dependencies }`) ranks fixes made
   * in similar projects first.
   */
  lookup(diagnostic: Diagnostic | DiagnosticFields, context?: FixContext): Promise<CacheHit | null>
  /** Removes deprecated fixes and fixes unused for the configured age; resolves to how many. */
  prune(): Promise<number>
  /** Writes every cached fix to `path` as JSON lines; resolves to how many. */
  export(path: string): Promise<number>
  /**
   * Reads fixes written by `export`; resolves to `{ read, added, refused }` (the others
   * were merged into fixes with the same edits; `refused`: left out, the edit policy refuses
   * them). A line that cannot be read fails the import before anything of its batch is
   * stored.
   */
  import(path: string): Promise<{ read: number; added: number; refused: number }>
}

/**
 * r" Google's Gemini API. The key, base URL and model default to `GEMINI_API_KEY`,
 * r" `GEMINI_BASE_URL` and `GEMINI_MODEL`.
 */
export declare class Gemini {
  /** Throws `E_CONFIG` when the key is missing or an option is invalid. */
  constructor(options?: ProviderOptions | undefined | null)
  /** The name used in reports (`openai`, `fallback(anthropic, openai)`). */
  get name(): string
  /** The model used when a request names none. */
  get model(): string
  /**
   * Asks the model, through every layer; resolves to `{ text, usage: { inputTokens,
   * outputTokens }, model, provider, stopReason, latencyMs }`.
   */
  complete(prompt: string, options?: CompleteOptions | undefined | null): Promise<Completion>
}

/** The heal loop, as `index.js`'s `Healer` builds it. */
export declare class HealerCore {
  /**
   * `provider`: a built-in provider, or a JavaScript `complete` (with `hostName` and
   * `hostModel`); `config`: heal settings; `fixers`: names from `defaultFixers()`.
   */
  constructor(provider?: Anthropic | OpenAI | Gemini | Fallback | HostedProvider | null, builder?: LocalBuilder | DockerBuilder | null, hostRun?: ((payload: string) => Promise<string>) | null, hostParsers?: Array<(payload: string) => Promise<string>> | null, parserNames?: string[] | null, cache?: FixCache | null, config?: HealConfig | null, fixers?: string[] | null, monitor?: HealthMonitor | null)
  /**
   * Starts healing `workspace` with `steps` (shell lines or step objects); `run` is the id
   * host callbacks are made with.
   */
  start(workspace: string, steps: Array<string | StepFields>, run: number): HealRun
}

/** One heal run in progress. */
export declare class HealRun {
  /**
   * Stops the run: the attempt in progress is undone, and the report's outcome is
   * `cancelled`.
   */
  cancel(): void
  /** Resolves to the run's report once it has ended. */
  report(): Promise<HealReport>
  /**
   * Resolves to the events since the last call (at least one), or to an empty array once
   * the run has ended.
   */
  nextEvents(): Promise<HealEvent[]>
}

/**
 * Sliding-window figures over the runs of the healers it is given to (`new Healer({ monitor
 * })`): failure, timeout and escalation rates, mean duration, mean and p90 recovery time, cache
 * hit rate, and a `status` — `healthy`, `degraded` or `critical` by seed 004's thresholds
 * (failure rate 25 % / 50 %, timeout rate 10 % / 20 %, mean duration 120 s / 240 s).
 */
export declare class HealthMonitor {
  /**
   * Over the runs that ended in the last `window` seconds (default 3600). Throws `E_CONFIG`
   * for a window that is not a positive number.
   */
  constructor(window?: number | undefined | null)
  /**
   * The figures now: `{ status, runs, failureRate, timeoutRate, escalationRate,
   * meanDurationSecs, meanRecoverySecs, p90RecoverySecs, cacheHitRate, alerts }`.
   */
  health(): Record<string, unknown>
}

/**
 * A provider written in JavaScript, as `index.js` hands it over: usable wherever a built-in
 * provider is (a `Healer`, a `Fallback` chain).
 */
export declare class HostedProvider {
  constructor(complete: (payload: string) => Promise<string>, name: string, model: string)
  /** The name used in reports (`openai`, `fallback(anthropic, openai)`). */
  get name(): string
  /** The model used when a request names none. */
  get model(): string
  /**
   * Asks the model, through every layer; resolves to `{ text, usage: { inputTokens,
   * outputTokens }, model, provider, stopReason, latencyMs }`.
   */
  complete(prompt: string, options?: CompleteOptions | undefined | null): Promise<Completion>
}

/** Runs each step as a local process group, killed as a whole on timeout or cancellation. */
export declare class LocalBuilder {
  /** `timeout` (seconds) applies to steps that set none. */
  constructor(options?: { timeout?: number })
}

/**
 * r" OpenAI's Chat Completions API, or any compatible server at `baseURL` (which then needs
 * r" no key). The key, base URL and model default to `OPENAI_API_KEY`, `OPENAI_BASE_URL` and
 * r" `OPENAI_MODEL`.
 */
export declare class OpenAI {
  /** Throws `E_CONFIG` when the key is missing or an option is invalid. */
  constructor(options?: ProviderOptions | undefined | null)
  /** The name used in reports (`openai`, `fallback(anthropic, openai)`). */
  get name(): string
  /** The model used when a request names none. */
  get model(): string
  /**
   * Asks the model, through every layer; resolves to `{ text, usage: { inputTokens,
   * outputTokens }, model, provider, stopReason, latencyMs }`.
   */
  complete(prompt: string, options?: CompleteOptions | undefined | null): Promise<Completion>
}

/** What `complete` takes besides the prompt. */
export interface CompleteOptions {
  /** A system prompt. */
  system?: string
  /** The model for this call. */
  model?: string
  /** The longest reply, in tokens. */
  maxTokens?: number
}

/**
 * The names of the deterministic fixers a `Healer` uses by default, in the order it asks them.
 * `missing-dependencies` installs packages the source imports (scripts off, pip only into
 * the project's virtualenv); the option `install: false` turns every install off.
 */
export declare function defaultFixers(): Array<string>

/** What [`DockerBuilder`] takes. */
export interface DockerOptions {
  /**
   * Give the container a network (default: none); never the host's own or link-local
   * addresses unless `allowHostAddresses`.
   */
  network?: boolean
  /** Let a container with a network reach the host's own and link-local addresses. */
  allowHostAddresses?: boolean
  /** Memory limit in MiB (default 4096). */
  memoryMib?: number
  /** CPU limit (default 2). */
  cpus?: number
  /** The user to run as. */
  user?: string
  /** Seconds a step may run when it sets no timeout. */
  timeout?: number
}

/** What [`LocalBuilder`] takes. */
export interface LocalOptions {
  /** Seconds a step may run when it sets no timeout. */
  timeout?: number
}

/**
 * Parses a build or test log into diagnostics, errors first, root causes before cascades.
 *
 * `log` is the tool output (a string or a `Buffer`; colors, `\r` rewrites and invalid UTF-8
 * are handled). `hosts` are parsers written in JavaScript (`index.js` passes them): each is
 * called with the whole cleaned log and returns its diagnostics as JSON.
 */
export declare function parse(log: string | Buffer, options?: ParseOptions | null, hosts?: Array<(log: string) => string> | null, hostNames?: string[] | null): Array<Diagnostic>

/** Options of [`parse`]. */
export interface ParseOptions {
  /**
   * Formats to add for this call: patterns (`name`, `regex` with named groups, `category`,
   * …, as `selfheal parse --patterns` takes them) or objects with `parse(log)`.
   */
  customFormats?: Array<CustomFormat | HostParser>
  /** The project root: paths inside it are reported relative to it. */
  root?: string
}

/** What every built-in provider's constructor takes. Times are in seconds. */
export interface ProviderOptions {
  /** The API key (default: the provider's environment variable). */
  apiKey?: string
  /**
   * The model used when a request names none (default: the environment, else the
   * provider's default).
   */
  model?: string
  /** Another server speaking the same API (default: the environment, else the vendor's). */
  baseURL?: string
  /** How long one HTTP call may take. */
  timeout?: number
  /**
   * Retries with backoff: on by default, `false` for none, or settings (`maxAttempts`,
   * `baseDelay`, `multiplier`, `maxDelay`, `jitter`, `maxRetryAfter`).
   */
  retry?: boolean | RetryOptions
  /**
   * A circuit breaker: on by default, `false` for none, or settings (`failureThreshold`,
   * `resetTimeout`).
   */
  breaker?: boolean | BreakerOptions
  /**
   * A budget of tokens over the provider's life: calls that would go over it are refused
   * (`E_BUDGET`).
   */
  maxTokens?: number
  /** A budget in US dollars, from the provider's list prices. */
  maxUsd?: number
}

/** What `recoverJson` found: the value, how, and what had to be repaired. */
export interface Recovered {
  /** The recovered object or array. */
  value: any
  /** `strict`, `repaired`, `extracted` or `truncated`. */
  stage: 'strict' | 'repaired' | 'extracted' | 'truncated'
  /** The repairs made, each `{ kind, count, firstOffset }`. */
  repairs: Array<{ kind: string; count: number; firstOffset: number }>
  /** Byte offsets `[start, end)` of the JSON in the text. */
  span: Array<number>
}

/**
 * Recovers the JSON in an LLM reply: fenced, wrapped in prose, cut off or subtly invalid.
 * Throws `E_JSON_NOT_FOUND` when the text holds no JSON object or array, `E_JSON_TOO_DEEP`
 * when the value nests deeper than 128 levels.
 */
export declare function recoverJson(text: string, options?: RecoverOptions | undefined | null): Recovered

/** Options of [`recover_json`]. */
export interface RecoverOptions {
  /**
   * Picks the value when the text holds several: `'fix'` (an object with `analysis` and
   * `fixes`) or the keys the object must have. By default, the first value.
   */
  schema?: 'fix' | string[]
}
