import { AuditActions, writeAudit } from './audit.js';
import type pg from 'pg';
import { ConfigError, ErrorCodes, LetheError, type ErrorCode } from '../../errors.js';
import { withTransaction } from '../pool.js';
import { checkKey } from '../../storage/keys.js';
import type { Queryable } from '../pool.js';
import type { JobsTable } from '../jobs-table.js';

/** A legal hold (docs/safety.md#legal-holds): held files are never erased or purged. */
export interface Hold {
  readonly id: string;
  readonly fileKey: string;
  readonly jobId: string | null;
  readonly reason: string;
  readonly until: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly releasedAt: string | null;
  readonly releasedBy: string | null;
}

type Row = {
  id: string;
  file_key: string;
  job_id: string | null;
  reason: string;
  until: Date | null;
  created_by: string;
  created_at: Date;
  released_at: Date | null;
  released_by: string | null;
};

const toHold = (r: Row): Hold => ({
  id: r.id,
  fileKey: r.file_key,
  jobId: r.job_id,
  reason: r.reason,
  until: r.until?.toISOString() ?? null,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  releasedAt: r.released_at?.toISOString() ?? null,
  releasedBy: r.released_by,
});

export interface HoldRequest {
  /** A file key, or a job id (then the job's current file_key is held). */
  readonly target: { fileKey: string } | { jobId: string };
  readonly reason: string;
  /** ISO date; the hold lapses after it. */
  readonly until?: string;
  readonly by: string;
  /** How the ledger writes keys (plain, or HMAC): to say when and by which run a key was erased. */
  readonly ledgerKey?: (key: string) => string;
}

/** A hold as placed, with what the operator should know (no row or file has the key, a near miss in case). */
export interface PlacedHold extends Hold {
  readonly warnings: readonly string[];
}

/**
 * Places a legal hold, serialized with batches in flight (docs/safety.md#holds). It locks a row of
 * the key FOR KEY SHARE: a batch that already holds the key's rows makes it wait until the batch
 * commits; a batch that comes later skips the row and keeps the file. So either the hold protects
 * the file, or the key was erased first and this throws LETHE_E_GONE naming the run and the time
 * (the CLI exits non-zero). Runs in the caller's transaction when given a client, else in its own.
 */
export async function placeHold(db: Queryable, table: JobsTable, req: HoldRequest): Promise<PlacedHold> {
  if (typeof req.reason !== 'string' || req.reason.trim() === '') throw new ConfigError('reason: a hold needs a non-empty reason');
  if (req.until !== undefined && (Number.isNaN(Date.parse(req.until)) || Date.parse(req.until) <= Date.now())) {
    throw new ConfigError(`until: expected a future date like 2027-01-31, got ${JSON.stringify(req.until)}`);
  }
  if ('fileKey' in req.target) {
    const problem = checkKey(req.target.fileKey);
    if (problem)
      throw new ConfigError(
        `${problem.message}; a run never erases such a key, so a hold on it protects nothing (got ${JSON.stringify(req.target.fileKey)})`,
        problem.code as ErrorCode,
      );
  }
  // A Pool (duck-typed: the caller's pg may be another copy of the module) gets a transaction of its own.
  if ('totalCount' in db && 'connect' in db) return withTransaction(db as unknown as pg.Pool, (client) => placeHoldLocked(client, table, req));
  return placeHoldLocked(db, table, req);
}

async function placeHoldLocked(db: Queryable, table: JobsTable, req: HoldRequest): Promise<PlacedHold> {
  const warnings: string[] = [];
  let fileKey: string;
  let jobId: string | null = null;
  if ('jobId' in req.target) {
    jobId = req.target.jobId;
    const seen = await db.query<{ k: string | null }>(`SELECT ${table.fileKey}::text AS k FROM ${table.table} WHERE ${table.id}::text = $1`, [jobId]);
    // The row lock waits for a batch that holds the row; after it, the row may be gone.
    const { rows } = await db.query<{ k: string | null }>(`SELECT ${table.fileKey}::text AS k FROM ${table.table} WHERE ${table.id}::text = $1 FOR KEY SHARE`, [
      jobId,
    ]);
    if (!rows[0]) {
      // The row was there and is gone now: a batch erased it while this waited for its lock.
      const was = seen.rows[0]?.k;
      if (was) await refuseIfErased(db, was, req.ledgerKey, true);
      throw new LetheError(ErrorCodes.NOT_FOUND, `job id ${JSON.stringify(jobId)}: no such row in ${table.names.table}`);
    }
    if (!rows[0].k) throw new LetheError(ErrorCodes.NOT_FOUND, `job id ${JSON.stringify(jobId)}: the row has no file_key to hold`);
    fileKey = rows[0].k;
  } else {
    fileKey = req.target.fileKey;
  }
  const seen = await db.query(`SELECT 1 FROM ${table.table} WHERE ${table.fileKey} = $1 LIMIT 1`, [fileKey]);
  const locked = await db.query(`SELECT 1 FROM ${table.table} WHERE ${table.fileKey} = $1 LIMIT 1 FOR KEY SHARE`, [fileKey]);
  if ((locked.rowCount ?? 0) === 0) {
    // No row refers to the key (any more). Rows that vanished while this waited were erased by a
    // batch just now: refuse. No row before either: an erasure in the ledger is only a warning (the
    // file may be back from a backup, and then the hold protects it).
    const erased = await refuseIfErased(db, fileKey, req.ledgerKey, (seen.rowCount ?? 0) > 0);
    if (erased) warnings.push(erased);
    else if ((seen.rowCount ?? 0) === 0) {
      const near = await db.query<{ k: string }>(
        `SELECT ${table.fileKey}::text AS k FROM ${table.table} WHERE lower(${table.fileKey}::text) = lower($1) LIMIT 1`,
        [fileKey],
      );
      warnings.push(
        near.rows[0]
          ? `no row in ${table.names.table} has file_key ${JSON.stringify(fileKey)}, but ${JSON.stringify(near.rows[0].k)} differs only in case: keys are case-sensitive; did you mean it?`
          : `no row in ${table.names.table} has file_key ${JSON.stringify(fileKey)}: the hold protects the file only if a row refers to it (check the key)`,
      );
    }
  }
  const { rows } = await db.query<Row>(`INSERT INTO lethe_holds (file_key, job_id, reason, until, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING *`, [
    fileKey,
    jobId,
    req.reason,
    req.until ?? null,
    req.by,
  ]);
  const hold = toHold(rows[0]!);
  await writeAudit(db, AuditActions.HOLD_PLACED, { hold_id: hold.id, file_key: fileKey, job_id: jobId, reason: req.reason, until: hold.until, by: req.by });
  return { ...hold, warnings };
}

/** The key's latest ledger entry is an erasure (no restore since): the hold would protect nothing. */
/**
 * The key's latest ledger entry is an erasure (no restore since). `justNow`: its rows vanished
 * while the hold waited for their lock, so a batch erased the file then: LETHE_E_GONE, naming the
 * run and the time. Otherwise a warning (the file may be back from a backup), or null.
 */
async function refuseIfErased(db: Queryable, fileKey: string, ledgerKey: ((key: string) => string) | undefined, justNow: boolean): Promise<string | null> {
  const { rows } = await db.query<{ run_id: string; outcome: string; erased_at: Date }>(
    `SELECT run_id::text, outcome, erased_at FROM lethe_ledger WHERE file_key = $1 AND outcome IN ('erased', 'absent', 'trashed', 'purged', 'reerased', 'restored')
      ORDER BY erased_at DESC, id DESC LIMIT 1`,
    [ledgerKey ? ledgerKey(fileKey) : fileKey],
  );
  const last = rows[0];
  if (!last || last.outcome === 'restored') return null;
  const when = `by run ${last.run_id} at ${last.erased_at.toISOString()}`;
  // In the undo trash: the hold keeps the copy from being purged (and `lethe restore` brings it back).
  if (last.outcome === 'trashed')
    return `file_key ${JSON.stringify(fileKey)} was moved into the undo trash ${when}: the hold keeps the trash copy from being purged; \`lethe restore\` brings it back`;
  if (justNow)
    throw new LetheError(ErrorCodes.GONE, `file_key ${JSON.stringify(fileKey)}: already erased ${when}; the hold was not placed (nothing is left to protect)`);
  return `file_key ${JSON.stringify(fileKey)} was erased ${when} and no row refers to it: the hold protects the file only if it is back (a restore)`;
}

/**
 * Releases every active hold on a key (or the one with this id), with the operator's reason in the
 * `cleanup_hold_released` audit row. Returns how many were released. The UPDATE's row locks
 * serialize two releases of one key: only the first writes an audit row.
 */
export async function releaseHolds(db: Queryable, target: { fileKey: string } | { holdId: string }, by: string, reason?: string): Promise<number> {
  if (reason !== undefined && (reason.trim() === '' || reason.length > 500))
    throw new ConfigError('reason: expected a non-empty reason of at most 500 characters');
  const { rows } = await db.query<{ id: string; file_key: string }>(
    'fileKey' in target
      ? `UPDATE lethe_holds SET released_at = now(), released_by = $2 WHERE file_key = $1 AND released_at IS NULL RETURNING id::text, file_key`
      : `UPDATE lethe_holds SET released_at = now(), released_by = $2 WHERE id = $1::bigint AND released_at IS NULL RETURNING id::text, file_key`,
    ['fileKey' in target ? target.fileKey : target.holdId, by],
  );
  if (rows.length > 0) {
    await writeAudit(db, AuditActions.HOLD_RELEASED, {
      hold_ids: rows.map((r) => r.id),
      file_key: rows[0]!.file_key,
      by,
      ...(reason === undefined ? {} : { reason: reason.trim() }),
    });
  }
  return rows.length;
}

export async function listHolds(db: Queryable, options: { activeOnly?: boolean; fileKey?: string; limit?: number } = {}): Promise<Hold[]> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM lethe_holds
      WHERE ($1::text IS NULL OR file_key = $1)
        AND (NOT $2 OR (released_at IS NULL AND (until IS NULL OR until > now())))
      ORDER BY created_at DESC LIMIT $3`,
    [options.fileKey ?? null, options.activeOnly ?? true, options.limit ?? 1000],
  );
  return rows.map(toHold);
}

/** SQL fragment: the keys among $1 under an active hold at instant $4. */
export const HELD_KEYS_SQL = `SELECT DISTINCT h.file_key AS k FROM lethe_holds h
  WHERE h.file_key = ANY($1::text[]) AND h.released_at IS NULL AND (h.until IS NULL OR h.until > $4::timestamptz)`;
