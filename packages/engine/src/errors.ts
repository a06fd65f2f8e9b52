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
  /** Erasure request: the row's purpose declares a retention duty (docs/rights.md#retained-under); kept, with the statute. */
  RETAINED: 'LETHE_E_RETAINED_BY_STATUTE',
  /** Erasure request: the row's file is under a legal hold; kept. */
  HELD: 'LETHE_E_HELD',
  /** Erasure request: the file stays because other rows share it; the named row was erased. */
  SHARED_KEY: 'LETHE_E_SHARED_KEY',
  /** Erasure request: the reference exists with a different target (references are idempotent, not reusable). */
  REQUEST_CONFLICT: 'LETHE_E_REQUEST_CONFLICT',
  /** A worker group that already finished (its audit row is written): a new run needs a new group id. */
  GROUP_FINISHED: 'LETHE_E_GROUP_FINISHED',
  /** Derived data (docs/rights.md#derived-data): a derived object could not be deleted, so its source file and row were kept. */
  DERIVED_FAILED: 'LETHE_E_DERIVED_FAILED',
  /** Coverage (docs/rights.md#derived-data): a table or storage prefix holds job data that no declaration covers. */
  COVERAGE: 'LETHE_E_COVERAGE',
  /** Ledger verify (docs/safety.md#tamper-evident-ledger): a ledger row or link was changed, deleted or inserted out of band. */
  LEDGER_CHAIN: 'LETHE_E_LEDGER_CHAIN',
  /** Ledger verify: a run's signed chain head does not verify with the public key (or a signature was removed). */
  LEDGER_SIGNATURE: 'LETHE_E_LEDGER_SIGNATURE',
  /** The erasure journal holds erasures the ledger does not (a database restore): scheduled runs wait for `lethe replay` (docs/safety.md#erasures-survive-a-backup-restore). */
  RESTORE_DETECTED: 'LETHE_E_RESTORE_DETECTED',
  /** The erasure journal could not be written or read (docs/safety.md#erasures-survive-a-backup-restore): the run fails. */
  JOURNAL: 'LETHE_E_JOURNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** How each runtime answers an error code: the HTTP status, the CLI's exit code (2 usage/config, 1 otherwise). */
export interface ErrorAnswer {
  readonly httpStatus: number;
  readonly exitCode: 1 | 2;
  /** The same request may succeed later with nothing changed (a lock released, the database back). */
  readonly retryable: boolean;
}

const usage = (httpStatus = 400): ErrorAnswer => ({ httpStatus, exitCode: 2, retryable: false });
const failure = (httpStatus: number, retryable = false): ErrorAnswer => ({ httpStatus, exitCode: 1, retryable });

/**
 * The one table of what every code means to a caller. Runtimes map with `httpStatusOf`,
 * `exitCodeOf` and `errorBody`, never with their own switch; errors.test.ts covers every code.
 */
export const ERROR_ANSWERS: { readonly [C in ErrorCode]: ErrorAnswer } = {
  [ErrorCodes.CONFIG]: usage(),
  [ErrorCodes.POLICY_INVALID]: usage(),
  [ErrorCodes.POLICY_UNKNOWN]: usage(),
  [ErrorCodes.STORAGE_URL]: usage(),
  [ErrorCodes.STORAGE]: failure(502, true),
  [ErrorCodes.KEY_OUTSIDE_ROOT]: failure(422),
  [ErrorCodes.KEY_INVALID]: failure(422),
  [ErrorCodes.RUN_IN_PROGRESS]: failure(409, true),
  [ErrorCodes.PAUSED]: failure(409),
  [ErrorCodes.SCHEMA]: failure(503),
  [ErrorCodes.NOT_MIGRATED]: failure(503),
  [ErrorCodes.DATABASE]: failure(503, true),
  [ErrorCodes.LOCK_LOST]: failure(503, true),
  [ErrorCodes.NOT_FOUND]: failure(404),
  [ErrorCodes.ABORTED]: failure(503, true),
  [ErrorCodes.BLAST_RADIUS]: failure(409),
  [ErrorCodes.FAILURE_BREAKER]: failure(409),
  [ErrorCodes.GONE]: failure(410),
  [ErrorCodes.CONFLICT]: failure(409),
  [ErrorCodes.EVIDENCE_TOO_YOUNG]: usage(),
  [ErrorCodes.POLICY_CHANGED]: failure(409),
  [ErrorCodes.STORAGE_MISMATCH]: failure(409),
  [ErrorCodes.KEY_HARDLINKED]: failure(422),
  [ErrorCodes.KEY_SYMLINK]: failure(422),
  [ErrorCodes.SESSION_TIME_ZONE]: failure(503),
  [ErrorCodes.UNDO_WINDOW]: failure(409),
  [ErrorCodes.TRASH_NEWER]: failure(409),
  [ErrorCodes.GROUP_FINISHED]: failure(409),
  // Erasure requests (docs/rights.md): per-row refusals in the ledger, and a reused reference.
  [ErrorCodes.RETAINED]: failure(409),
  [ErrorCodes.HELD]: failure(409),
  [ErrorCodes.SHARED_KEY]: failure(409),
  [ErrorCodes.REQUEST_CONFLICT]: failure(409),
  // Derived data (docs/rights.md#derived-data): a failed derived delete is a storage failure; a coverage gap is a state to fix.
  [ErrorCodes.DERIVED_FAILED]: failure(502, true),
  [ErrorCodes.COVERAGE]: failure(409),
  // The tamper-evident ledger (docs/safety.md#tamper-evident-ledger): evidence that does not check out.
  [ErrorCodes.LEDGER_CHAIN]: failure(409),
  [ErrorCodes.LEDGER_SIGNATURE]: failure(409),
  // Erasure journal (docs/safety.md#erasures-survive-a-backup-restore): a restore waits for replay; a journal that cannot be written fails the run.
  [ErrorCodes.RESTORE_DETECTED]: failure(409),
  [ErrorCodes.JOURNAL]: failure(502),
};

/** Anything that is not a Lethe error (a bug, a raw driver error): HTTP 500, exit 1. */
const UNKNOWN: ErrorAnswer = { httpStatus: 500, exitCode: 1, retryable: false };

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_ANSWERS, code);
}

/** The code of anything thrown: a Lethe code, a driver's own code (a SQLSTATE, ECONNREFUSED), or `fallback`. */
export function errorCodeOf(error: unknown, fallback = 'LETHE_E_INTERNAL'): string {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : fallback;
}

const USAGE = usage();

/**
 * By code (a code that crossed a thread boundary as data means what it meant), except that a
 * ConfigError is a usage error whatever its code: a key given on the command line that no run
 * could erase is bad input (exit 2), while the same code from storage is a failure (exit 1).
 */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof ConfigError) return USAGE;
  const code = errorCodeOf(error);
  return isErrorCode(code) ? ERROR_ANSWERS[code] : UNKNOWN;
}

export function httpStatusOf(code: string): number {
  return isErrorCode(code) ? ERROR_ANSWERS[code].httpStatus : UNKNOWN.httpStatus;
}

export function exitCodeOf(error: unknown): 1 | 2 {
  return errorAnswer(error).exitCode;
}

/**
 * The HTTP answer to an error: its status and `{error: {code, message}}`. An error that is not a
 * Lethe error gets a generic message (the real one belongs in the log, never to the caller).
 */
export function errorBody(error: unknown): { readonly status: number; readonly body: { readonly error: { readonly code: string; readonly message: string } } } {
  if (!(error instanceof LetheError))
    return { status: UNKNOWN.httpStatus, body: { error: { code: 'LETHE_E_INTERNAL', message: 'internal error; see the server log' } } };
  return { status: errorAnswer(error).httpStatus, body: { error: { code: error.code, message: error.message } } };
}

export class LetheError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LetheError';
    this.code = code;
  }
}

/** Bad configuration or usage (ERROR_ANSWERS: the CLI exits 2, HTTP answers 400). */
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
 * SQLSTATEs worth a retry on the next batch or run, by their PostgreSQL condition names
 * (Appendix A of the PostgreSQL manual). Everything else is a bug or a schema problem.
 */
export const RETRYABLE_SQLSTATES: Readonly<Record<string, string>> = Object.freeze({
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '53300': 'too_many_connections',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '08000': 'connection_exception',
  '08003': 'connection_does_not_exist',
  '08006': 'connection_failure',
  '08001': 'sqlclient_unable_to_establish_sqlconnection',
  '08004': 'sqlserver_rejected_establishment_of_sqlconnection',
});

export function isRetryableSqlState(code: string | undefined): boolean {
  return code !== undefined && Object.hasOwn(RETRYABLE_SQLSTATES, code);
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
  if (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || CONNECTION_LOST_CODES.has(code)))
    return true;
  return /Connection terminated|not queryable/i.test(error.message);
}

/**
 * A lost connection whose statement surely did not take effect (refused at send, or a FATAL that
 * aborts it before commit): safe to send again on another connection.
 */
export function isUnsentOnLostConnection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    isConnectionLoss(error) && (code === '57P01' || code === '57P02' || code === '57P03' || code === 'EPIPE' || /not queryable/i.test((error as Error).message))
  );
}

/** Turns anything thrown into a one-line message fit for a log or a terminal. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
