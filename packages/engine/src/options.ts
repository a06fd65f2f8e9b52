import type pg from 'pg';
import { systemClock } from './clock.js';
import { ConfigError } from './errors.js';
import { DEFAULT_JOBS_TABLE, validateJobsTableNames, type JobsTableNames } from './db/jobs-table.js';
import { DEFAULT_POLICIES, parsePolicies, type PolicySet } from './policy/retention.js';
import type { Clock, Logger, StoragePort } from './ports.js';
import { parseStorageUrl, type StorageConfig } from './storage/index.js';
import { resolveJournalSetting, type JournalSetting } from './journal/config.js';
import { validateLedgerKeySecret } from './policy/ledger-keys.js';
import { resolveUndoWindows, type UndoWindows } from './policy/undo-window.js';
import { noopNotifier, type Notifier } from './notify/notifier.js';
import { resolveErasureOptions, type ErasureRequestOptions, type ProcessorConfig } from './requests/request.js';
import { boundsOf, defaultOf, type SettingName } from './option-spec.js';
import { resolveDerived, type DerivedDeclarations, type DerivedOptions } from './run/derived/declarations.js';
import { loadSigningKey } from './ledger-signing.js';

/** Everything optional; `resolveOptions` validates, fills defaults and freezes. */
export interface EngineOptions {
  /** A Postgres URL; or pass `pool`. */
  readonly databaseUrl?: string;
  readonly pool?: pg.Pool;
  /** A storage URL (`file:///var/lib/docs`, `s3://bucket/prefix`), a parsed config, or an adapter. */
  readonly storage?: string | StorageConfig | StoragePort;
  readonly jobs?: Partial<JobsTableNames>;
  /** Policies that `migrate` seeds when the database has none (default: the runbook's five). */
  readonly policies?: Record<string, string | { readonly retention: string; readonly retainedUnder?: string }>;
  /** Rows per batch: one cursor read, one storage task, one outcome statement. */
  readonly batchSize?: number;
  /** Storage deletes per second for the whole run; 0 = no limit (the default). */
  readonly deletesPerSecond?: number;
  /**
   * Storage deletes per second per key prefix (the key up to its last "/"); 0 = no limit.
   * Default: none for files, 3500 for S3, its documented write rate per partitioned prefix
   * (docs/storage-s3.md#throttling).
   */
  readonly deletesPerSecondPerPrefix?: number;
  readonly maxBatchesInFlight?: number;
  /**
   * Worker threads in the storage pool. Default 0: batches run on this thread's adapter (libuv's
   * pool does file I/O for every thread alike, S3 requests are network waits, and starting workers,
   * each loading its adapter and the SDK, cost a CLI run more than they saved; docs/performance.md#peers).
   */
  readonly threads?: number;
  /** Deletes in flight inside one worker (unlinks, or DeleteObjects requests). Files: 64 (beat 32 in 7 of 8 paired bench rounds, docs/performance.md). */
  readonly deleteConcurrency?: number;
  /** How long a run waits for another run's lock before refusing; 0 refuses at once. */
  readonly lockWaitMs?: number;
  /** Erased keys kept in a run's audit row (FM-003 searches it); past this, the ledger. */
  readonly summaryErasedKeys?: number;
  readonly summaryFailures?: number;
  readonly pausePollMs?: number;
  readonly progressIntervalMs?: number;
  /** Unknown-purpose rows are counted up to this figure per purpose. */
  readonly unreadableCountCap?: number;
  /** Blast-radius guard: refuse a run that would erase more than this (0 = no cap). Default 1,000,000. */
  readonly maxDeletesPerRun?: number;
  /** ...or more than this many times the median of the last 10 completed runs (default 10)... */
  readonly blastRadiusFactor?: number;
  /** ...when that is above this floor (default 10,000: small runs never trip the median rule). */
  readonly blastRadiusFloor?: number;
  /** Failure breaker: over the last `breakerWindow` deletes (default 200)... */
  readonly breakerWindow?: number;
  /** ...more than this share failing stops the run and pauses Lethe (default 0.5). */
  readonly breakerTripShare?: number;
  /** A finished run with more than this share of failures is degraded (default 0.1). */
  readonly degradedShare?: number;
  /** How often a run refreshes its heartbeat (lethe_runs.heartbeat_at). */
  readonly heartbeatMs?: number;
  /** A group worker whose heartbeat is older than this is taken as dead. */
  readonly groupStaleMs?: number;
  /** Undo window (docs/safety.md#undo-window-default-off): "off" (default), "on" (7 days) or a duration like "7d"; erased files wait in the trash. */
  readonly undoWindow?: string | boolean;
  /** Per-purpose undo windows, overriding `undoWindow`: `{"Medical": "30d", "System Testing": "off"}`. */
  readonly undoWindows?: Readonly<Record<string, string>>;
  /** Store file keys in the ledger and run summaries as HMAC-SHA256 with this secret (>= 16 bytes). */
  readonly ledgerKeyHmacSecret?: string;
  /** Path of an Ed25519 private key (PEM): each run's ledger chain head is signed with it (docs/safety.md#tamper-evident-ledger). */
  readonly ledgerSigningKey?: string;
  /** The erasure journal (docs/safety.md#erasures-survive-a-backup-restore): `storage` (default), `off`, `dir:/abs/path`, `s3://bucket/prefix`. */
  readonly journal?: string;
  /** Erasure requests (docs/rights.md): the data-principal column, the deadline, immediate or next run, processors. */
  readonly erasure?: {
    readonly principalColumn?: string;
    readonly deadlineDays?: number;
    readonly mode?: string;
    readonly processors?: readonly ProcessorConfig[];
  };
  /** Derived data deleted with each job: child tables, derived objects, kept areas (docs/rights.md#derived-data). */
  readonly derived?: DerivedOptions;
  readonly logger?: Logger;
  /** Notifications (runbook "Notifications (webhook)"): told of pauses, resumes and runs that failed, degraded or did not complete (never blocks a run). */
  readonly notifier?: Notifier;
  /** How long `close()` waits for notifications still being delivered (default 5 s). */
  readonly notifyFlushMs?: number;
  readonly clock?: Clock;
  /** Lethe's version, recorded with every run. */
  readonly version?: string;
  readonly host?: string;
}

export interface ResolvedOptions {
  readonly databaseUrl: string | null;
  readonly pool: pg.Pool | null;
  /** Null when not configured: commands that need no storage (migrate, status) still work. */
  readonly storage: StorageConfig | StoragePort | null;
  readonly jobs: JobsTableNames;
  readonly policies: PolicySet;
  readonly batchSize: number;
  readonly deletesPerSecond: number;
  readonly deletesPerSecondPerPrefix: number;
  readonly maxBatchesInFlight: number;
  readonly threads: number;
  readonly deleteConcurrency: number;
  readonly lockWaitMs: number;
  readonly summaryErasedKeys: number;
  readonly summaryFailures: number;
  readonly pausePollMs: number;
  readonly progressIntervalMs: number;
  readonly unreadableCountCap: number;
  readonly maxDeletesPerRun: number;
  readonly blastRadiusFactor: number;
  readonly blastRadiusFloor: number;
  readonly breakerWindow: number;
  readonly breakerTripShare: number;
  readonly degradedShare: number;
  readonly heartbeatMs: number;
  readonly groupStaleMs: number;
  readonly undoWindows: UndoWindows;
  readonly ledgerKeyHmacSecret: string | null;
  /** The signing key's path, checked at resolve time to hold an Ed25519 private key; null: heads are not signed. */
  readonly ledgerSigningKey: string | null;
  readonly journal: JournalSetting;
  readonly erasure: ErasureRequestOptions;
  readonly derived: DerivedDeclarations;
  readonly logger: Logger;
  readonly notifier: Notifier;
  readonly notifyFlushMs: number;
  readonly clock: Clock;
  readonly version: string;
  readonly host: string;
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
  debug: () => {},
  child: () => silentLogger,
};

/** S3's documented rate: 3,500 PUT/COPY/POST/DELETE per second per partitioned prefix (docs/storage-s3.md#throttling). */
export const S3_DELETES_PER_PREFIX = 3500;

/** An integer option, bounded and defaulted by its row in SETTINGS (option-spec.ts). */
function int(name: SettingName, value: number | undefined, storage: 'file' | 's3' = 'file'): number {
  if (value === undefined) return defaultOf(name, storage);
  const [min, max] = boundsOf(name);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function share(name: SettingName, value: number | undefined): number {
  if (value === undefined) return defaultOf(name);
  if (typeof value !== 'number' || !(value > 0 && value <= 1))
    throw new ConfigError(`${name}: must be a share above 0 and at most 1, like 0.5, got ${JSON.stringify(value)}`);
  return value;
}

function isPort(s: unknown): s is StoragePort {
  return typeof s === 'object' && s !== null && typeof (s as StoragePort).deleteMany === 'function';
}

export function resolveOptions(o: EngineOptions): ResolvedOptions {
  if (!o.pool && (typeof o.databaseUrl !== 'string' || o.databaseUrl === '')) {
    throw new ConfigError('DATABASE_URL: a Postgres connection URL is required, e.g. postgres://user@host:5432/db');
  }
  if (o.databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(o.databaseUrl)) {
    throw new ConfigError(`DATABASE_URL: expected a postgres:// URL, got ${JSON.stringify(o.databaseUrl.replace(/\/\/[^@/]*@/, '//***@'))}`);
  }
  const storage = o.storage === undefined ? null : typeof o.storage === 'string' ? parseStorageUrl(o.storage) : o.storage;
  // Rate and concurrency defaults differ for S3 (SETTINGS: deletesPerSecond, deleteConcurrency).
  const kind = storage !== null && !isPort(storage) && storage.kind === 's3' ? 's3' : 'file';
  return Object.freeze({
    databaseUrl: o.databaseUrl ?? null,
    pool: o.pool ?? null,
    storage,
    jobs: validateJobsTableNames({ ...DEFAULT_JOBS_TABLE, ...o.jobs }),
    policies: o.policies === undefined ? DEFAULT_POLICIES : parsePolicies(o.policies),
    batchSize: int('batchSize', o.batchSize),
    deletesPerSecond: int('deletesPerSecond', o.deletesPerSecond, kind),
    deletesPerSecondPerPrefix: int('deletesPerSecondPerPrefix', o.deletesPerSecondPerPrefix, kind),
    maxBatchesInFlight: int('maxBatchesInFlight', o.maxBatchesInFlight),
    threads: int('threads', o.threads),
    deleteConcurrency: int('deleteConcurrency', o.deleteConcurrency, kind),
    lockWaitMs: int('lockWaitMs', o.lockWaitMs),
    summaryErasedKeys: int('summaryErasedKeys', o.summaryErasedKeys),
    summaryFailures: int('summaryFailures', o.summaryFailures),
    pausePollMs: int('pausePollMs', o.pausePollMs),
    progressIntervalMs: int('progressIntervalMs', o.progressIntervalMs),
    unreadableCountCap: int('unreadableCountCap', o.unreadableCountCap),
    maxDeletesPerRun: int('maxDeletesPerRun', o.maxDeletesPerRun),
    blastRadiusFactor: int('blastRadiusFactor', o.blastRadiusFactor),
    blastRadiusFloor: int('blastRadiusFloor', o.blastRadiusFloor),
    breakerWindow: int('breakerWindow', o.breakerWindow),
    breakerTripShare: share('breakerTripShare', o.breakerTripShare),
    degradedShare: share('degradedShare', o.degradedShare),
    heartbeatMs: int('heartbeatMs', o.heartbeatMs),
    groupStaleMs: int('groupStaleMs', o.groupStaleMs),
    undoWindows: resolveUndoWindows(o.undoWindow, o.undoWindows),
    ledgerKeyHmacSecret: validateLedgerKeySecret(o.ledgerKeyHmacSecret),
    ledgerSigningKey: resolveSigningKeyPath(o.ledgerSigningKey),
    journal: resolveJournalSetting(o.journal, storage !== null && !isPort(storage) ? storage : null),
    erasure: resolveErasureOptions(o.erasure),
    derived: resolveDerived(o.derived, (url, field) => void parseStorageUrl(url, field)),
    logger: o.logger ?? silentLogger,
    notifier: o.notifier ?? noopNotifier,
    notifyFlushMs: int('notifyFlushMs', o.notifyFlushMs),
    clock: o.clock ?? systemClock,
    version: o.version ?? '0.1.0',
    host: o.host ?? 'unknown',
  });
}

function resolveSigningKeyPath(path: string | undefined): string | null {
  if (path === undefined || path === '') return null;
  loadSigningKey(path);
  return path;
}
