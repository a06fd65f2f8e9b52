import type pg from 'pg';
import { systemClock } from './clock.js';
import { ConfigError } from './errors.js';
import { DEFAULT_JOBS_TABLE, validateJobsTableNames, type JobsTableNames } from './db/jobs-table.js';
import { DEFAULT_POLICIES, parsePolicies, type PolicySet } from './policy/retention.js';
import type { Clock, Logger, StoragePort } from './ports.js';
import { parseStorageUrl, type StorageConfig } from './storage/index.js';
import { validateLedgerKeySecret } from './policy/ledger-keys.js';
import { resolveUndoWindows, type UndoWindows } from './policy/undo-window.js';
import { noopNotifier, type Notifier } from './notify/notifier.js';
import { resolveDerived, type DerivedDeclarations, type DerivedOptions } from './run/derived/declarations.js';

/** Everything optional; `resolveOptions` validates, fills defaults and freezes. */
export interface EngineOptions {
  /** A Postgres URL; or pass `pool`. */
  readonly databaseUrl?: string;
  readonly pool?: pg.Pool;
  /** A storage URL (`file:///var/lib/docs`, `s3://bucket/prefix`), a parsed config, or an adapter. */
  readonly storage?: string | StorageConfig | StoragePort;
  readonly jobs?: Partial<JobsTableNames>;
  /** Policies that `migrate` seeds when the database has none (default: the runbook's five). */
  readonly policies?: Record<string, string>;
  /** Rows per batch: one cursor read, one storage task, one outcome statement. */
  readonly batchSize?: number;
  /** Storage deletes per second; 0 = no limit. Default: none for files, 3000 for S3. */
  readonly deletesPerSecond?: number;
  readonly maxBatchesInFlight?: number;
  /** Worker threads in the storage pool. */
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
  /** Undo window (issue 7): "off" (default), "on" (7 days) or a duration like "7d"; erased files wait in the trash. */
  readonly undoWindow?: string | boolean;
  /** Per-purpose undo windows, overriding `undoWindow`: `{"Medical": "30d", "System Testing": "off"}`. */
  readonly undoWindows?: Readonly<Record<string, string>>;
  /** Store file keys in the ledger and run summaries as HMAC-SHA256 with this secret (>= 16 bytes). */
  readonly ledgerKeyHmacSecret?: string;
  /** Derived data deleted with each job: child tables, derived objects, kept areas (docs/rights.md#derived-data). */
  readonly derived?: DerivedOptions;
  readonly logger?: Logger;
  /** Issue 9: told of pauses, resumes and runs that failed, degraded or did not complete (never blocks a run). */
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

function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function share(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) throw new ConfigError(`${name}: must be a share above 0 and at most 1, like 0.5, got ${JSON.stringify(value)}`);
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
  const isS3 = storage !== null && !isPort(storage) && storage.kind === 's3';
  return Object.freeze({
    databaseUrl: o.databaseUrl ?? null,
    pool: o.pool ?? null,
    storage,
    jobs: validateJobsTableNames({ ...DEFAULT_JOBS_TABLE, ...o.jobs }),
    policies: o.policies === undefined ? DEFAULT_POLICIES : parsePolicies(o.policies),
    batchSize: int('batchSize', o.batchSize, 1000, 1, 10_000),
    deletesPerSecond: int('deletesPerSecond', o.deletesPerSecond, isS3 ? 3000 : 0, 0, 1_000_000),
    maxBatchesInFlight: int('maxBatchesInFlight', o.maxBatchesInFlight, 4, 1, 64),
    threads: int('threads', o.threads, 2, 1, 32),
    deleteConcurrency: int('deleteConcurrency', o.deleteConcurrency, isS3 ? 4 : 64, 1, 1024),
    lockWaitMs: int('lockWaitMs', o.lockWaitMs, 0, 0, 86_400_000),
    summaryErasedKeys: int('summaryErasedKeys', o.summaryErasedKeys, 1000, 0, 100_000),
    summaryFailures: int('summaryFailures', o.summaryFailures, 100, 0, 10_000),
    pausePollMs: int('pausePollMs', o.pausePollMs, 1000, 0, 600_000),
    progressIntervalMs: int('progressIntervalMs', o.progressIntervalMs, 2000, 10, 600_000),
    unreadableCountCap: int('unreadableCountCap', o.unreadableCountCap, 1000, 1, 10_000_000),
    maxDeletesPerRun: int('maxDeletesPerRun', o.maxDeletesPerRun, 1_000_000, 0, 1_000_000_000),
    blastRadiusFactor: int('blastRadiusFactor', o.blastRadiusFactor, 10, 1, 1000),
    blastRadiusFloor: int('blastRadiusFloor', o.blastRadiusFloor, 10_000, 0, 1_000_000_000),
    breakerWindow: int('breakerWindow', o.breakerWindow, 200, 10, 100_000),
    breakerTripShare: share('breakerTripShare', o.breakerTripShare, 0.5),
    degradedShare: share('degradedShare', o.degradedShare, 0.1),
    heartbeatMs: int('heartbeatMs', o.heartbeatMs, 5000, 100, 600_000),
    groupStaleMs: int('groupStaleMs', o.groupStaleMs, 60_000, 500, 86_400_000),
    undoWindows: resolveUndoWindows(o.undoWindow, o.undoWindows),
    ledgerKeyHmacSecret: validateLedgerKeySecret(o.ledgerKeyHmacSecret),
    derived: resolveDerived(o.derived, (url, field) => void parseStorageUrl(url, field)),
    logger: o.logger ?? silentLogger,
    notifier: o.notifier ?? noopNotifier,
    notifyFlushMs: int('notifyFlushMs', o.notifyFlushMs, 5000, 0, 600_000),
    clock: o.clock ?? systemClock,
    version: o.version ?? '0.1.0',
    host: o.host ?? 'unknown',
  });
}
