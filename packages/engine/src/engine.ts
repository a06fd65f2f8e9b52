import type pg from 'pg';
import { createPool } from './db/pool.js';
import { ConfigError } from './errors.js';
import { migrate, type MigrateReport } from './db/migrate.js';
import { resolveOptions, type EngineOptions, type ResolvedOptions } from './options.js';
import type { StoragePort } from './ports.js';
import { preflightRun, warnUncovered } from './run/preflight.js';
import { checkUndoWindowAtStart, purgeBeforeRun } from './run/purge-due.js';
import { executeRun, type RunOptions } from './run/index.js';
import { WorkerPoolStorage } from './storage/pool/worker-pool.js';
import type { RunSummary } from './run/summary.js';
import { runOpenErasureRequests } from './requests/request-run.js';
import { journalLocation } from './journal/config.js';
import { openJournalStore, type JournalStore } from './journal/store.js';
import { checkForRestore, refuseIfRestored, type RestoreCheck } from './journal/detect.js';
import { replayJournal, type ReplayOptions, type ReplayReport } from './operations/replay.js';

export interface MigrateCallOptions {
  readonly createJobsIndexes?: boolean;
  /** Install the key guard trigger on jobs (default true; docs/safety.md#shared-keys). */
  readonly installKeyGuard?: boolean;
}

/** The engine: a pool, a storage, resolved options; runtimes (daemon, cli, http) hold one each. */
export interface Engine {
  readonly pool: pg.Pool;
  readonly options: ResolvedOptions;
  /** The storage port (deletes in worker threads, or on this thread with threads 0). */
  storage(): StoragePort;
  migrate(options?: MigrateCallOptions): Promise<MigrateReport>;
  run(options?: RunOptions): Promise<RunSummary>;
  /** The erasure journal's store, or null when there is none (docs/safety.md#erasures-survive-a-backup-restore). */
  journal(): Promise<JournalStore | null>;
  /** Restore detection: reads the journal objects not yet checked against the ledger (the daemon calls it at start). */
  checkRestore(): Promise<RestoreCheck | null>;
  /** `lethe replay`: re-erases journaled erasures a restore brought back. */
  replay(options?: ReplayOptions): Promise<ReplayReport>;
  /** Waits (bounded) for notifications in flight, drains the worker pool, closes the database pool (when the engine created it). */
  close(): Promise<void>;
}

/** Triggers of the daemon's schedule: refused while a restore is detected and not replayed. */
const SCHEDULED = new Set(['schedule', 'catch-up']);

export function createEngine(input: EngineOptions): Engine {
  const options = resolveOptions(input);
  const ownsPool = options.pool === null;
  // Each batch in flight holds a connection from its re-check to its commit (docs/safety.md#races),
  // besides the run lock, the cursor, and the intents, heartbeats and progress written meanwhile.
  const pool = options.pool ?? createPool(options.databaseUrl!, Math.max(8, 2 * options.maxBatchesInFlight + 4));
  let storage: StoragePort | undefined;
  const getStorage = (): StoragePort => {
    if (!storage) {
      const s = options.storage;
      if (s === null) throw new ConfigError('LETHE_STORAGE: a storage URL is required, e.g. file:///var/lib/docs or s3://bucket/prefix');
      if ('deleteMany' in s) storage = s;
      else storage = new WorkerPoolStorage(s.concurrency === undefined ? { ...s, concurrency: options.deleteConcurrency } : s, { threads: options.threads });
    }
    return storage;
  };
  let journal: Promise<JournalStore | null> | undefined;
  const getJournal = (): Promise<JournalStore | null> => {
    if (!journal) {
      const location = journalLocation(options.journal, options.storage);
      journal = location === null ? Promise.resolve(null) : openJournalStore(location);
    }
    return journal;
  };
  let closed = false;
  const engine: Engine = {
    pool,
    options,
    storage: getStorage,
    migrate: (m = {}) =>
      migrate(pool, {
        jobs: options.jobs,
        policies: options.policies,
        ...(m.createJobsIndexes === undefined ? {} : { createJobsIndexes: m.createJobsIndexes }),
        ...(m.installKeyGuard === undefined ? {} : { installKeyGuard: m.installKeyGuard }),
      }),
    journal: getJournal,
    checkRestore: async () => {
      const store = await getJournal();
      return store === null ? null : checkForRestore(pool, store);
    },
    replay: async (replayOptions) => {
      const store = await getJournal();
      if (store === null)
        throw new ConfigError('journal (LETHE_JOURNAL): replay needs the erasure journal; it is off (or the storage has no location of its own): set journal');
      return replayJournal({ pool, storage: getStorage(), options, journal: store }, replayOptions);
    },
    run: async (runOptions) => {
      const deps = { pool, storage: getStorage(), options, journal: runOptions?.dryRun === true ? null : await getJournal() };
      // Preflight (docs/design.md#decisions, runbook FM-002): database answers and is migrated, storage root reachable, or fail now in one line.
      await preflightRun(deps, { dryRun: runOptions?.dryRun === true });
      // After preflight (migrated, storage reachable). A restore seen in the journal (docs/safety.md#erasures-survive-a-backup-restore): scheduled runs wait for `lethe replay`.
      if (deps.journal && runOptions?.dryRun !== true && SCHEDULED.has(runOptions?.trigger ?? 'manual')) await refuseIfRestored(pool, deps.journal);
      // Undo window (docs/safety.md#undo-window-default-off): trash past its grace goes first.
      // Group workers share the run lock; purging takes it alone, so it is left to solo runs.
      // Both refuse an undo window the store could not honour (checkUndoWindowAtStart) first.
      if (runOptions?.group === undefined && runOptions?.request === undefined) await purgeBeforeRun(deps, runOptions ?? {});
      else await checkUndoWindowAtStart(deps);
      // Derived data coverage: a warning in the log, checked beside the run (docs/rights.md#derived-data).
      const coverage = runOptions?.dryRun === true ? Promise.resolve() : warnUncovered(deps);
      let summary: RunSummary;
      try {
        summary = await executeRun(deps, runOptions);
      } finally {
        await coverage;
      }
      // Erasure requests (docs/rights.md#how-a-request-runs): after a completed solo retention run,
      // each open request runs in a run of its own (mode next-run, or one an earlier run left open).
      // A partial run (--purpose, --limit) leaves them to the next full one.
      const full =
        runOptions?.request === undefined && runOptions?.group === undefined && runOptions?.purposes === undefined && runOptions?.limit === undefined;
      if (full && !summary.dry_run && summary.status === 'completed') {
        await runOpenErasureRequests(engine, runOptions?.signal ? { signal: runOptions.signal } : {});
      }
      return summary;
    },
    async close() {
      if (closed) return;
      closed = true;
      // Notifications still being delivered get a bounded moment (docs/runbook.md#notifications-webhook); never longer.
      await options.notifier.flush(options.notifyFlushMs).catch(() => {});
      const s = storage;
      storage = undefined;
      // Adapters passed in by the caller are the caller's to close.
      if (s && options.storage !== null && !('deleteMany' in options.storage)) await s.close();
      const j = journal;
      journal = undefined;
      if (j) await (await j.catch(() => null))?.close();
      if (ownsPool) await pool.end();
    },
  };
  return engine;
}
