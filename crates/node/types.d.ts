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

