import type { Readable } from 'node:stream';

/**
 * The small interfaces the engine consumes. Glossary:
 *
 * - expired row: a `jobs` row whose purpose has a policy, whose `created_at` is set, and whose
 *   `created_at + retention` is before the run's cutoff (one instant per run, from the DB clock).
 * - key: a row's `file_key`, relative to the storage root (a directory or a bucket prefix).
 * - outcome: what storage did with one key. `erased` (it was there and is gone), `absent` (it
 *   was already gone), `refused` (the key is unsafe and was never touched), `failed` (the store
 *   said no; the row is kept for the next run).
 * - ledger: Lethe's per-file record of erasures (`lethe_ledger`), one row per job row removed.
 */

export type OutcomeKind = 'erased' | 'absent' | 'refused' | 'failed';

/** One key's fate. Crosses the worker-thread boundary, so plain data only (no Error objects). */
export interface KeyOutcome {
  readonly key: string;
  readonly outcome: OutcomeKind;
  /** Stable code for refused/failed outcomes, e.g. `LETHE_E_KEY_OUTSIDE_ROOT`, `EACCES`. */
  readonly code?: string;
  readonly message?: string;
  readonly retryable?: boolean;
  /** Undo window: the file left its key by a move, and is kept at this trash location until purged. */
  readonly trash?: string;
}

/** When a trash entry was made, from its ledger row: purge must not delete anything written later. */
export interface TrashRecordTimes {
  /** The record's batch began (ledger `erased_at`): a version kept as the trash was written before. */
  readonly batchStartedMs: number;
  /** The entry existed by then (its run's end or last heartbeat): a trash copy was written before. */
  readonly recordedByMs: number;
}

/** Undo window (docs/safety.md#undo-window-default-off): move the file at `key` into the store's trash, at `trashKey` (under `.lethe/trash/`). */
export interface TrashRequest {
  readonly key: string;
  readonly trashKey: string;
}

/** Bringing a trash copy back: never over another object at the key. */
export type RestoreOutcome =
  | { readonly outcome: 'restored' }
  /** No trash copy there (purged, or removed by hand). */
  | { readonly outcome: 'missing' }
  /** A different object is at the key now. */
  | { readonly outcome: 'occupied' }
  | { readonly outcome: 'failed'; readonly code: string; readonly message: string };

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  /** Last modification, epoch milliseconds. */
  readonly modifiedMs: number;
}

/** `lethe doctor` (runbook FM-002): one step of writing, reading back and deleting a probe object. */
export interface ProbeStep {
  readonly step: 'write' | 'read' | 'delete';
  readonly ok: boolean;
  readonly ms: number;
  readonly code?: string;
  readonly message?: string;
}

export interface ProbeResult {
  /** Where the probe object was, relative to the root (under `.lethe/doctor/`). */
  readonly key: string;
  readonly steps: readonly ProbeStep[];
}

/** An object's bytes, streamed (restore from a backup never holds a whole file in memory). */
export interface ObjectBody {
  readonly body: Readable;
  readonly size: number;
}

export type WriteOutcome =
  | { readonly outcome: 'written'; readonly size: number }
  /** Something is already at the key: never overwritten. */
  | { readonly outcome: 'occupied' }
  | { readonly outcome: 'failed'; readonly code: string; readonly message: string };

/** Storage: filesystem and S3 are adapters of this one port (see the storage contract, testing/storage-contract.ts). */
export interface StoragePort {
  /** A short description for logs and summaries, e.g. `file:///var/lib/docs`. */
  readonly describe: string;
  /** Deletes every key; never throws for a per-key problem: one outcome per key, in order. */
  deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<KeyOutcome[]>;
  /** Existence check for verification; `null` when absent. Refuses unsafe keys by throwing. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** Lists objects under the root (or a sub-prefix), for reconciliation. */
  list(prefix?: string): AsyncIterable<ObjectInfo>;
  /**
   * Optional (undo window, docs/safety.md#undo-window-default-off): like `deleteMany`, but each file moves into the store's trash;
   * `trash` in an `erased` (or `absent`, when an earlier attempt moved it) outcome says where.
   */
  trashMany?(items: readonly TrashRequest[], signal?: AbortSignal): Promise<KeyOutcome[]>;
  /** Optional: moves a trash copy back to its key. */
  restoreFromTrash?(trash: string, key: string): Promise<RestoreOutcome>;
  /**
   * Optional: deletes trash copies for good; each outcome's `key` is the trash location. With
   * `times` (one per location, from the ledger), an object there that is newer than its record is
   * not the trashed file: it is left in place and answered `refused` (LETHE_E_TRASH_NEWER).
   */
  purgeTrash?(trash: readonly string[], times?: readonly TrashRecordTimes[]): Promise<KeyOutcome[]>;
  /**
   * Optional: throws a LetheError when a file trashed now could not be restored (an S3 bucket
   * whose versioning is Suspended, in `keep` mode). A run with an undo window calls it first.
   */
  checkUndoWindow?(): Promise<void>;
  /**
   * Optional (derived data, docs/rights.md#derived-data): aborts every incomplete multipart upload
   * under a prefix (relative to the root); null when done, else why not. Stores without multipart
   * uploads leave it out.
   */
  abortUploadsUnder?(prefix: string, signal?: AbortSignal): Promise<{ readonly code: string; readonly message: string } | null>;
  /** Optional: what a run summary should say about the store (e.g. an S3 bucket's versioning and mode). */
  describeState?(): Promise<Record<string, unknown>>;
  /**
   * Optional (run preflight, docs/design.md#decisions): throws a LetheError naming the store when its root (directory, bucket)
   * cannot be reached. One cheap call: every real run makes it before anything else.
   */
  ping?(): Promise<void>;
  /** Optional (`lethe doctor`): writes, reads back and deletes a small object at `.lethe/doctor/<name>`; never throws for a step. */
  probe?(name: string): Promise<ProbeResult>;
  /** Optional (restore from a backup): the object at the key, or null when there is none. */
  readObject?(key: string): Promise<ObjectBody | null>;
  /** Optional (restore from a backup): writes the object at the key, never over an existing one. */
  writeObject?(key: string, source: ObjectBody): Promise<WriteOutcome>;
  close(): Promise<void>;
}

/** One expired row as the pipeline needs it: cheap to decode (text and epoch numbers). */
export interface ExpiredRow {
  readonly id: string;
  readonly fileKey: string;
  readonly purpose: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

/** Expired-row source: batches of rows, streamed; never the whole backlog in memory. */
export type ExpiredRowSource = AsyncIterable<readonly ExpiredRow[]>;

export interface Clock {
  /** Epoch milliseconds, for durations and rate limiting (the cutoff comes from the database). */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The subset of pino's logger the engine uses; runtimes pass a real pino child logger. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface RunProgress {
  readonly runId: string;
  readonly selected: number;
  readonly processed: number;
  readonly deleted: number;
  readonly failed: number;
  /** Expired rows counted at start (estimate for ETA; `null` when not counted). */
  readonly total: number | null;
  readonly elapsedMs: number;
}
