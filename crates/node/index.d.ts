export * from './native'

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
