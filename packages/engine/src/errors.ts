/**
 * Lethe's error catalogue. Every error a user can see has a stable `code` (scripts and the HTTP API
 * match on it) and a message that names the field and what was expected.
 */
export const ErrorCodes = {
  CONFIG: 'LETHE_E_CONFIG',
  POLICY_INVALID: 'LETHE_E_POLICY_INVALID',
  POLICY_UNKNOWN: 'LETHE_E_POLICY_UNKNOWN',
  STORAGE_URL: 'LETHE_E_STORAGE_URL',
  STORAGE: 'LETHE_E_STORAGE',
  KEY_OUTSIDE_ROOT: 'LETHE_E_KEY_OUTSIDE_ROOT',
  KEY_INVALID: 'LETHE_E_KEY_INVALID',
  RUN_IN_PROGRESS: 'LETHE_E_RUN_IN_PROGRESS',
  PAUSED: 'LETHE_E_PAUSED',
  SCHEMA: 'LETHE_E_SCHEMA',
  NOT_MIGRATED: 'LETHE_E_NOT_MIGRATED',
  DATABASE: 'LETHE_E_DATABASE',
  LOCK_LOST: 'LETHE_E_LOCK_LOST',
  NOT_FOUND: 'LETHE_E_NOT_FOUND',
  ABORTED: 'LETHE_E_ABORTED',
  BLAST_RADIUS: 'LETHE_E_BLAST_RADIUS',
  FAILURE_BREAKER: 'LETHE_E_FAILURE_BREAKER',
  /** Restore: the file is past its undo window (purged, or erased without one). */
  GONE: 'LETHE_E_GONE',
  /** Restore: a different file is at the key now. */
  CONFLICT: 'LETHE_E_CONFLICT',
  /** Prune: evidence younger than one year is never deleted (DPDP Rules 2025, 6(1)(e), 8(3)). */
  EVIDENCE_TOO_YOUNG: 'LETHE_E_EVIDENCE_TOO_YOUNG',
  /** A worker group started under a policy version that is no longer the current one. */
  POLICY_CHANGED: 'LETHE_E_POLICY_CHANGED',
  /** Storage does not hold the files the database says exist (an unmounted volume, a wrong prefix). */
  STORAGE_MISMATCH: 'LETHE_E_STORAGE_MISMATCH',
  /** Files: the file at the key has other hard links; unlinking one name would not erase its data. */
  KEY_HARDLINKED: 'LETHE_E_KEY_HARDLINKED',
  /** Files: the key's final component is a symlink; unlinking it would not erase what it points to. */
  KEY_SYMLINK: 'LETHE_E_KEY_SYMLINK',
  /** A database session that is not, and cannot be made, UTC (DESIGN "Time"): Lethe does not run in it. */
  SESSION_TIME_ZONE: 'LETHE_E_SESSION_TIME_ZONE',
  /** An undo window this store could not honour (a file trashed now could not be restored): the run is refused. */
  UNDO_WINDOW: 'LETHE_E_UNDO_WINDOW',
  /** Purge: the object at a trash location is newer than its trash record; it is not the trashed file and is left in place. */
  TRASH_NEWER: 'LETHE_E_TRASH_NEWER',
  /** Derived data (docs/rights.md#derived-data): a derived object could not be deleted, so its source file and row were kept. */
  DERIVED_FAILED: 'LETHE_E_DERIVED_FAILED',
  /** Coverage (docs/rights.md#derived-data): a table or storage prefix holds job data that no declaration covers. */
  COVERAGE: 'LETHE_E_COVERAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class LetheError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LetheError';
    this.code = code;
  }
}

/** Bad configuration or usage: the CLI exits 2, HTTP answers 400. */
export class ConfigError extends LetheError {
  constructor(message: string, code: ErrorCode = ErrorCodes.CONFIG, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ConfigError';
  }
}

/** Another run holds the per-database run lock. */
export class RunInProgressError extends LetheError {
  constructor(message = 'another Lethe run is in progress on this database (the run lock is held); try again when it ends') {
    super(ErrorCodes.RUN_IN_PROGRESS, message);
    this.name = 'RunInProgressError';
  }
}

/** The database schema is missing or not what Lethe needs. */
export class SchemaError extends LetheError {
  constructor(message: string, code: ErrorCode = ErrorCodes.SCHEMA) {
    super(code, message);
    this.name = 'SchemaError';
  }
}

export function isLetheError(error: unknown): error is LetheError {
  return error instanceof LetheError;
}

/**
 * SQLSTATE classes worth a retry on the next batch or run (connection loss, serialization,
 * deadlock, too many connections, admin shutdown). Everything else is a bug or a schema problem.
 */
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01', '53300', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

export function isRetryableSqlState(code: string | undefined): boolean {
  return code !== undefined && RETRYABLE_SQLSTATES.has(code);
}

/** Node's socket errors and pg's own messages when the server connection is gone. */
const CONNECTION_LOST_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The database connection was lost (terminated backend, failover, network): SQLSTATE class 08 or
 * 57P01-57P03, a socket error, or pg's "Connection terminated" / "not queryable". Only for errors
 * from database calls: a socket error from storage would look the same.
 */
export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof LetheError) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || CONNECTION_LOST_CODES.has(code))) return true;
  return /Connection terminated|not queryable/i.test(error.message);
}

/**
 * A lost connection whose statement surely did not take effect (refused at send, or a FATAL that
 * aborts it before commit): safe to send again on another connection.
 */
export function isUnsentOnLostConnection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return isConnectionLoss(error) && (code === '57P01' || code === '57P02' || code === '57P03' || code === 'EPIPE' || /not queryable/i.test((error as Error).message));
}

/** Turns anything thrown into a one-line message fit for a log or a terminal. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
