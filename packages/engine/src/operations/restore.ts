import { randomUUID } from 'node:crypto';
import { writeAudit, type AuditAction } from '../db/tables/audit.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import { ConfigError, ErrorCodes, LetheError } from '../errors.js';
import { placeHold } from '../db/tables/holds.js';
import { inspectJobsTable, type JobsTable } from '../db/jobs-table.js';
import { ledgerKeyFor } from '../policy/ledger-keys.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import { checkKey } from '../storage/keys.js';
import { withRunLock } from '../run/locked.js';
import { policySelections } from './plan.js';
import { ledgerInsertSql } from '../db/tables/ledger-chain.js';

/**
 * `lethe restore <file_key>` (docs/safety.md#undo-window-default-off; runbook FM-003 "deleted too early"): within the undo
 * window, the file comes back from the trash to its key and its `jobs` rows are recreated from
 * the ledger's copy (`job_row`, same column values), recorded in the ledger (`restored`) and in
 * audit_logs (`cleanup_restored`). Past the window it throws `LETHE_E_GONE` saying why.
 *
 * Storage first, then the database, under the run lock. A restore that stopped after moving the
 * file back finds the trash copy gone and the file at its key with no row: it finishes the
 * database part (the file at the key is taken to be the one it moved).
 */
export const RESTORED: AuditAction = 'cleanup_restored';

export interface RestoreRequest {
  readonly fileKey: string;
  readonly by: string;
  /** Also place a legal hold, so the next run does not erase the restored rows again. */
  readonly holdReason?: string;
  readonly lockWaitMs?: number;
}

export interface RestoreResult {
  readonly restore_id: string;
  readonly file_key: string;
  readonly trash_location: string;
  /** The run that moved it into the trash, and when. */
  readonly trashed_by_run: string;
  readonly trashed_at: string;
  readonly purge_after: string | null;
  readonly restored_job_ids: readonly string[];
  /** Rows whose id was already in the table (not overwritten). */
  readonly already_present_job_ids: readonly string[];
  /** Restored rows still expired under the current policy: the next run erases them again unless held. */
  readonly still_expired_job_ids: readonly string[];
  readonly hold_id: string | null;
  /** True when an earlier restore had already moved the file back and this one finished it. */
  readonly resumed: boolean;
}

type Trashed = { ids: string[]; trash_location: string; run_id: string; trashed_at: Date; purge_after: Date | null };

export async function restoreFile(engine: Engine, req: RestoreRequest): Promise<RestoreResult> {
  const problem = typeof req.fileKey === 'string' ? checkKey(req.fileKey) : { message: 'file_key: expected a non-empty key' };
  if (problem) throw new ConfigError(problem.message);
  if (req.holdReason !== undefined && req.holdReason.trim() === '') throw new ConfigError('hold reason: expected a non-empty reason');
  const storage = engine.storage();
  if (!storage.restoreFromTrash) throw new ConfigError(`storage: ${storage.describe} has no undo window (trash) to restore from`);
  const key = req.fileKey;
  const ledgerKey = ledgerKeyFor(engine.options, key);
  return withRunLock(
    engine.pool,
    engine.options,
    async () => {
      const table = await inspectJobsTable(engine.pool, engine.options.jobs);
      const trashed = await latestTrash(engine.pool, ledgerKey);
      if (!trashed) throw await whyNotInTrash(engine.pool, key, ledgerKey);
      let resumed = false;
      const moved = await storage.restoreFromTrash!(trashed.trash_location, key);
      if (moved.outcome === 'occupied')
        throw new LetheError(ErrorCodes.CONFLICT, `file_key ${JSON.stringify(key)}: a different file is at this key now; move it away, then restore again`);
      if (moved.outcome === 'failed')
        throw new LetheError(
          ErrorCodes.STORAGE,
          `file_key ${JSON.stringify(key)}: could not restore from ${trashed.trash_location}: ${moved.code}: ${moved.message}`,
        );
      if (moved.outcome === 'missing') {
        resumed = (await storage.stat(key)) !== null && !(await keyHasRows(engine.pool, table, key));
        if (!resumed)
          throw new LetheError(
            ErrorCodes.GONE,
            `file_key ${JSON.stringify(key)}: gone: its trash copy (${trashed.trash_location}) is missing, removed outside Lethe`,
          );
      }
      return recordRestore(engine, table, req, ledgerKey, trashed, resumed);
    },
    req.lockWaitMs,
  );
}

async function latestTrash(db: Queryable, ledgerKey: string): Promise<Trashed | null> {
  const { rows } = await db.query<Trashed>(
    `SELECT array_agg(id::text ORDER BY id) AS ids, trash_location, run_id::text, max(erased_at) AS trashed_at, max(purge_after) AS purge_after
       FROM lethe_ledger WHERE file_key = $1 AND outcome = 'trashed' AND settled_at IS NULL AND trash_location IS NOT NULL
      GROUP BY trash_location, run_id ORDER BY max(id) DESC LIMIT 1`,
    [ledgerKey],
  );
  return rows[0] ?? null;
}

/** Past the window: says what happened to the file, as one line. */
async function whyNotInTrash(db: Queryable, key: string, ledgerKey: string): Promise<LetheError> {
  const { rows } = await db.query<{ outcome: string; erased_at: Date; run_id: string }>(
    `SELECT outcome, erased_at, run_id::text FROM lethe_ledger WHERE file_key = $1 AND outcome IN ('erased', 'absent', 'purged', 'restored', 'reerased', 'trashed')
      ORDER BY id DESC LIMIT 1`,
    [ledgerKey],
  );
  const k = JSON.stringify(key);
  const last = rows[0];
  if (!last) return new LetheError(ErrorCodes.NOT_FOUND, `file_key ${k}: Lethe has no record of erasing it (nothing to restore)`);
  const when = last.erased_at.toISOString();
  switch (last.outcome) {
    case 'purged':
      return new LetheError(ErrorCodes.GONE, `file_key ${k}: gone: its undo window ended and the trash copy was purged at ${when}`);
    case 'restored':
      return new LetheError(ErrorCodes.NOT_FOUND, `file_key ${k}: already restored at ${when}; it is not in the trash`);
    default:
      return new LetheError(ErrorCodes.GONE, `file_key ${k}: gone: erased at ${when} by run ${last.run_id} with no undo window (nothing kept to restore)`);
  }
}

async function keyHasRows(db: Queryable, t: JobsTable, key: string): Promise<boolean> {
  const { rowCount } = await db.query(`SELECT 1 FROM ${t.table} WHERE ${t.fileKey} = $1 LIMIT 1`, [key]);
  return (rowCount ?? 0) > 0;
}

/** One transaction: recreate the rows, settle the trashed ledger rows, add `restored` rows, audit (and hold). */
async function recordRestore(engine: Engine, t: JobsTable, req: RestoreRequest, ledgerKey: string, trashed: Trashed, resumed: boolean): Promise<RestoreResult> {
  const restoreId = randomUUID();
  const { policies } = await loadCurrentPolicies(engine.pool);
  const selections = policySelections(policies);
  return withTransaction(engine.pool, async (client) => {
    const { rows } = await client.query<{ job_id: string; inserted: boolean; expired: boolean | null }>(
      ledgerInsertSql({
        with: `t AS (
         UPDATE lethe_ledger SET settled_at = now() WHERE id = ANY($1::bigint[]) AND settled_at IS NULL RETURNING *
       ), j AS (
         INSERT INTO ${t.table} OVERRIDING SYSTEM VALUE
         SELECT (jsonb_populate_record(NULL::${t.table}, t.job_row || jsonb_build_object($3::text, $2::text))).* FROM t WHERE t.job_row IS NOT NULL
         ON CONFLICT DO NOTHING
         RETURNING ${t.id}::text AS job_id,
                   ${t.createdAt} + (SELECT p.r FROM unnest($6::text[], $7::interval[]) AS p(purpose, r) WHERE p.purpose = ${t.purpose}) < ${t.toColumnTime('now()')} AS expired
       )`,
        columns: 'run_id, job_id, file_key, purpose_code, created_at, expires_at, outcome, policy_version, trash_location, undo_window, purge_after, error',
        select: `SELECT $4::uuid, job_id, file_key, purpose_code, created_at, expires_at, 'restored', policy_version, trash_location, undo_window, purge_after, $5::text FROM t`,
        result: `SELECT l.job_id, j.job_id IS NOT NULL AS inserted, j.expired FROM lethe_ledger_ins l LEFT JOIN j ON j.job_id = l.job_id`,
      }),
      [trashed.ids, req.fileKey, t.names.fileKey, restoreId, `restored by ${req.by}`, selections.map((s) => s.purpose), selections.map((s) => s.interval)],
    );
    const restored = rows.filter((r) => r.inserted).map((r) => r.job_id);
    const present = rows.filter((r) => !r.inserted).map((r) => r.job_id);
    const stillExpired = rows.filter((r) => r.inserted && r.expired === true).map((r) => r.job_id);
    const hold = req.holdReason ? await placeHold(client, t, { target: { fileKey: req.fileKey }, reason: req.holdReason, by: req.by }) : null;
    await writeAudit(client, RESTORED, {
      restore_id: restoreId,
      file_key: ledgerKey,
      by: req.by,
      trash_location: trashed.trash_location,
      trashed_by_run: trashed.run_id,
      restored_job_ids: restored,
      already_present_job_ids: present,
      still_expired_job_ids: stillExpired,
      hold_id: hold?.id ?? null,
      resumed,
    });
    return {
      restore_id: restoreId,
      file_key: req.fileKey,
      trash_location: trashed.trash_location,
      trashed_by_run: trashed.run_id,
      trashed_at: trashed.trashed_at.toISOString(),
      purge_after: trashed.purge_after?.toISOString() ?? null,
      restored_job_ids: restored,
      already_present_job_ids: present,
      still_expired_job_ids: stillExpired,
      hold_id: hold?.id ?? null,
      resumed,
    };
  });
}
