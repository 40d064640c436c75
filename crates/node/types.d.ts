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

