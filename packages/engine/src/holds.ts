import { AuditActions, writeAudit } from './audit.js';
import { ConfigError, ErrorCodes, LetheError } from './errors.js';
import type { Queryable } from './db.js';
import type { JobsTable } from './jobs-table.js';

/** A legal hold (issue 7): held files are never erased or purged. */
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

type Row = { id: string; file_key: string; job_id: string | null; reason: string; until: Date | null; created_by: string; created_at: Date; released_at: Date | null; released_by: string | null };

const toHold = (r: Row): Hold => ({
  id: r.id, fileKey: r.file_key, jobId: r.job_id, reason: r.reason, until: r.until?.toISOString() ?? null,
  createdBy: r.created_by, createdAt: r.created_at.toISOString(), releasedAt: r.released_at?.toISOString() ?? null, releasedBy: r.released_by,
});

export interface HoldRequest {
  /** A file key, or a job id (then the job's current file_key is held). */
  readonly target: { fileKey: string } | { jobId: string };
  readonly reason: string;
  /** ISO date; the hold lapses after it. */
  readonly until?: string;
  readonly by: string;
}

export async function placeHold(db: Queryable, table: JobsTable, req: HoldRequest): Promise<Hold> {
  if (typeof req.reason !== 'string' || req.reason.trim() === '') throw new ConfigError('reason: a hold needs a non-empty reason');
  if (req.until !== undefined && (Number.isNaN(Date.parse(req.until)) || Date.parse(req.until) <= Date.now())) {
    throw new ConfigError(`until: expected a future date like 2027-01-31, got ${JSON.stringify(req.until)}`);
  }
  let fileKey: string;
  let jobId: string | null = null;
  if ('jobId' in req.target) {
    jobId = req.target.jobId;
    const { rows } = await db.query<{ k: string | null }>(`SELECT ${table.fileKey}::text AS k FROM ${table.table} WHERE ${table.id}::text = $1`, [jobId]);
    if (!rows[0]) throw new LetheError(ErrorCodes.NOT_FOUND, `job id ${JSON.stringify(jobId)}: no such row in ${table.names.table}`);
    if (!rows[0].k) throw new LetheError(ErrorCodes.NOT_FOUND, `job id ${JSON.stringify(jobId)}: the row has no file_key to hold`);
    fileKey = rows[0].k;
  } else {
    fileKey = req.target.fileKey;
    if (fileKey === '') throw new ConfigError('file_key: expected a non-empty key');
  }
  const { rows } = await db.query<Row>(
    `INSERT INTO lethe_holds (file_key, job_id, reason, until, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
    [fileKey, jobId, req.reason, req.until ?? null, req.by],
  );
  const hold = toHold(rows[0]!);
  await writeAudit(db, AuditActions.HOLD_PLACED, { hold_id: hold.id, file_key: fileKey, job_id: jobId, reason: req.reason, until: hold.until, by: req.by });
  return hold;
}

/** Releases every active hold on a key (or the one with this id). Returns how many were released. */
export async function releaseHolds(db: Queryable, target: { fileKey: string } | { holdId: string }, by: string): Promise<number> {
  const { rows } = await db.query<{ id: string; file_key: string }>(
    'fileKey' in target
      ? `UPDATE lethe_holds SET released_at = now(), released_by = $2 WHERE file_key = $1 AND released_at IS NULL RETURNING id::text, file_key`
      : `UPDATE lethe_holds SET released_at = now(), released_by = $2 WHERE id = $1::bigint AND released_at IS NULL RETURNING id::text, file_key`,
    ['fileKey' in target ? target.fileKey : target.holdId, by],
  );
  if (rows.length > 0) await writeAudit(db, AuditActions.HOLD_RELEASED, { hold_ids: rows.map((r) => r.id), file_key: rows[0]!.file_key, by });
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
