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

