import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { writeAudit, type AuditAction } from '../db/tables/audit.js';
import { readControl } from '../db/tables/control.js';
import type { Engine } from '../engine.js';
import { ConfigError, describeError, ErrorCodes, LetheError, RunInProgressError } from '../errors.js';
import { ledgerKeyFunction } from '../policy/ledger-keys.js';
import type { ResolvedOptions } from '../options.js';
import type { StoragePort, TrashRecordTimes } from '../ports.js';
import { noTrashOutcomes } from '../storage/no-trash.js';
import { anyUndoWindow } from '../policy/undo-window.js';
import { withRunLock } from './locked.js';
import { ledgerInsertSql } from '../db/tables/ledger-chain.js';

/**
 * The undo window's second half (docs/safety.md#undo-window-default-off): trash past its `purge_after` is deleted for good, and
 * the ledger records it (`purged`; the `trashed` row is settled and its row content dropped, since
 * nothing is left to restore). Storage first, then the database: a crash between them leaves the
 * trashed row unsettled, and the next purge finds the copy gone and records the purge then.
 * Files under an active legal hold are never purged; their trash waits until the hold ends.
 */
export const TRASH_PURGED: AuditAction = 'cleanup_trash_purged';

export interface PurgeOptions {
  /** Who asked (`lethe purge --by`), recorded in audit_logs. */
  readonly by?: string;
  /** Count what is due; touch nothing. */
  readonly dryRun?: boolean;
  /** Ledger rows per batch (one storage call and one statement each). */
  readonly batchSize?: number;
  readonly lockWaitMs?: number;
  readonly signal?: AbortSignal;
}

export interface PurgeFailure {
  readonly trash_location: string;
  readonly code: string;
  readonly message: string;
}

export interface PurgeReport {
  readonly purge_id: string;
  readonly dry_run: boolean;
  /** Trashed rows past their undo window, holds excluded. */
  readonly due: number;
  /** Rows recorded `purged` (their trash copy deleted, or found already gone). */
  readonly purged: number;
  readonly files_deleted: number;
  readonly files_already_gone: number;
  /** Rows whose copy could not be deleted: kept in the trash, tried again next purge. */
  readonly failed: number;
  /**
   * Rows whose trash location now holds an object newer than the record (a later upload at a key
   * whose trash is its `null` version, a write into the trash prefix): not the trashed file, so
   * never deleted; the row stays unsettled and is reported again (in `failures`, LETHE_E_TRASH_NEWER).
   */
  readonly newer: number;
  /** Rows past their window but held (a legal hold on the key): never purged while held. */
  readonly held: number;
  readonly failures: readonly PurgeFailure[];
}

interface PurgeDeps {
  readonly pool: pg.Pool;
  readonly options: ResolvedOptions;
  readonly storage: StoragePort;
}

/** `lethe purge`: under the run lock; refused while Lethe is paused (a pause stops every deletion). */
export async function purgeTrash(engine: Engine, o: PurgeOptions = {}): Promise<PurgeReport> {
  const deps = { pool: engine.pool, options: engine.options, storage: engine.storage() };
  return withRunLock(
    engine.pool,
    engine.options,
    async () => {
      const control = await readControl(engine.pool);
      if (control.paused && !o.dryRun)
        throw new LetheError(
          ErrorCodes.PAUSED,
          `Lethe is paused (${control.reason ?? 'no reason given'}); purging deletes files, so it waits for \`lethe resume\``,
        );
      return purgeDueTrash(deps, o);
    },
    o.lockWaitMs,
  );
}

type DueRow = { id: string; trash_location: string; batch_started_ms: number; recorded_by_ms: number };

/** The purge itself; the caller holds the run lock. */
export async function purgeDueTrash(deps: PurgeDeps, o: PurgeOptions = {}): Promise<PurgeReport> {
  const { pool, storage } = deps;
  const purgeId = randomUUID();
  const heldKeys = await activeHeldLedgerKeys(pool, deps.options);
  const counts = { due: 0, purged: 0, files_deleted: 0, files_already_gone: 0, failed: 0, newer: 0 };
  const failures: PurgeFailure[] = [];
  const held = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM lethe_ledger WHERE outcome = 'trashed' AND settled_at IS NULL AND purge_after <= now() AND file_key = ANY($1::text[])`,
    [heldKeys],
  );
  let lastId = '0';
  const batchSize = o.batchSize ?? 1000;
  for (;;) {
    if (o.signal?.aborted) break;
    // The record's times bound what may be deleted at its location (TrashRecordTimes): its batch
    // began at erased_at; the entry existed by its run's end (or last heartbeat; never before erased_at).
    const { rows } = await pool.query<DueRow>(
      `SELECT l.id::text, l.trash_location,
              (extract(epoch FROM l.erased_at) * 1000)::float8 AS batch_started_ms,
              (extract(epoch FROM greatest(l.erased_at, coalesce(r.ended_at, r.heartbeat_at, l.erased_at))) * 1000)::float8 AS recorded_by_ms
         FROM lethe_ledger l LEFT JOIN lethe_runs r ON r.id = l.run_id
        WHERE l.outcome = 'trashed' AND l.settled_at IS NULL AND l.purge_after <= now() AND l.id > $1::bigint
          AND l.trash_location IS NOT NULL AND l.file_key <> ALL($2::text[])
        ORDER BY l.id LIMIT $3`,
      [lastId, heldKeys, batchSize],
    );
    if (rows.length === 0) break;
    lastId = rows[rows.length - 1]!.id;
    counts.due += rows.length;
    if (o.dryRun) continue;
    await purgeBatch(deps, purgeId, rows, counts, failures);
  }
  const report: PurgeReport = { purge_id: purgeId, dry_run: o.dryRun === true, ...counts, held: held.rows[0]!.n, failures };
  if (!o.dryRun && (counts.due > 0 || report.held > 0)) {
    await writeAudit(pool, TRASH_PURGED, {
      purge_id: purgeId,
      by: o.by ?? 'lethe',
      ...counts,
      held: report.held,
      failures: failures.slice(0, 20),
      storage: storage.describe,
    });
  }
  return report;
}

async function purgeBatch(
  deps: PurgeDeps,
  purgeId: string,
  rows: readonly DueRow[],
  counts: { purged: number; files_deleted: number; files_already_gone: number; failed: number; newer: number },
  failures: PurgeFailure[],
): Promise<void> {
  // Rows sharing a location: the earliest times, so nothing written after any of them is deleted.
  const times = new Map<string, TrashRecordTimes>();
  for (const r of rows) {
    const t = times.get(r.trash_location);
    times.set(r.trash_location, {
      batchStartedMs: Math.min(Number(r.batch_started_ms), t?.batchStartedMs ?? Infinity),
      recordedByMs: Math.min(Number(r.recorded_by_ms), t?.recordedByMs ?? Infinity),
    });
  }
  const locations = [...times.keys()];
  const outcomes = deps.storage.purgeTrash
    ? await deps.storage.purgeTrash(
        locations,
        locations.map((l) => times.get(l)!),
      )
    : noTrashOutcomes(deps.storage.describe, locations, 'purge');
  const byLocation = new Map(outcomes.map((x) => [x.key, x]));
  const done: string[] = [];
  const gone: boolean[] = [];
  for (const r of rows) {
    const x = byLocation.get(r.trash_location);
    if (x && (x.outcome === 'erased' || x.outcome === 'absent')) {
      done.push(r.id);
      gone.push(x.outcome === 'absent');
    } else {
      if (x?.code === ErrorCodes.TRASH_NEWER) counts.newer++;
      else counts.failed++;
      if (failures.length < 100) failures.push({ trash_location: r.trash_location, code: x?.code ?? ErrorCodes.STORAGE, message: x?.message ?? 'no outcome' });
    }
  }
  for (const x of outcomes) {
    if (x.outcome === 'erased') counts.files_deleted++;
    else if (x.outcome === 'absent') counts.files_already_gone++;
  }
  if (done.length === 0) return;
  const { rowCount } = await deps.pool.query(
    ledgerInsertSql({
      with: `s AS (
       UPDATE lethe_ledger t SET settled_at = now(), job_row = NULL
         FROM unnest($1::bigint[], $2::boolean[]) AS d(id, gone)
        WHERE t.id = d.id AND t.settled_at IS NULL
        RETURNING t.*, d.gone)`,
      columns:
        'run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, error_code, error, policy_version, trash_location, undo_window, purge_after',
      select: `SELECT $3::uuid, job_id, file_key, purpose_code, created_at, expires_at, 'purged',
            CASE WHEN gone THEN 'LETHE_TRASH_ALREADY_GONE' END, CASE WHEN gone THEN 'the trash copy was already gone' END,
            policy_version, trash_location, undo_window, purge_after
       FROM s`,
    }),
    [done, gone, purgeId],
  );
  counts.purged += rowCount ?? 0;
}

/** Keys under an active hold, as the ledger writes them (hashed in HMAC mode). Holds are few. */
export async function activeHeldLedgerKeys(pool: pg.Pool, options: ResolvedOptions): Promise<string[]> {
  const { rows } = await pool.query<{ k: string }>(
    `SELECT DISTINCT file_key AS k FROM lethe_holds WHERE released_at IS NULL AND (until IS NULL OR until > now())`,
  );
  const keyFor = ledgerKeyFunction(options.ledgerKeyHmacSecret);
  return rows.map((r) => keyFor(r.k));
}

/**
 * A run with an undo window (solo, dry or a group worker) starts only on a store where a file
 * trashed now can be restored: one with a trash, and not an S3 bucket whose versioning is
 * Suspended in `keep` mode (storage/s3/trash.ts checkUndoWindow). Nothing is deleted otherwise.
 */
export async function checkUndoWindowAtStart(deps: Pick<PurgeDeps, 'options' | 'storage'>): Promise<void> {
  const { options, storage } = deps;
  if (!anyUndoWindow(options.undoWindows)) return;
  if (!storage.trashMany) {
    throw new ConfigError(`undoWindow: ${storage.describe} has no undo window (trash); turn undoWindow off for it, or use a store that has one (file://)`);
  }
  await storage.checkUndoWindow?.();
}

/** Whether any trashed row is past its `purge_after` (held or not): lethe_ledger_trash_due_idx answers it. */
async function trashDue(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ due: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM lethe_ledger WHERE outcome = 'trashed' AND settled_at IS NULL AND purge_after <= now()) AS due`,
  );
  return rows[0]?.due === true;
}

/**
 * Every real solo run purges due trash first (docs/safety.md#undo-window-default-off), when it can take the run lock at once and
 * Lethe is not paused; otherwise (a group worker, a lock held) the next run or `lethe purge` does.
 * A failure here is logged and never stops the run. A run with an undo window on a store without
 * a trash is refused up front.
 */
export async function purgeBeforeRun(deps: PurgeDeps, run: { readonly dryRun?: boolean; readonly group?: string }): Promise<PurgeReport | null> {
  const { options } = deps;
  await checkUndoWindowAtStart(deps);
  // Workers of a group share the run lock: one taking it alone to purge would turn the others away.
  if (run.dryRun || run.group !== undefined) return null;
  try {
    // Nothing past its undo window (every run without one, most runs with one): one index probe
    // instead of the lock, the pause, the holds and the purge's own reads (docs/performance.md#start-up).
    // Held trash counts as due here, so a purge that only reports held rows still runs.
    if (!(await trashDue(deps.pool))) return null;
    return await withRunLock(deps.pool, options, async () => ((await readControl(deps.pool)).paused ? null : purgeDueTrash(deps, { by: 'lethe:run' })), 0);
  } catch (error) {
    if (!(error instanceof RunInProgressError))
      options.logger.warn({ error: describeError(error) }, 'purging due trash before the run failed; the next run tries again');
    return null;
  }
}
