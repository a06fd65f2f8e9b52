import type { Queryable } from '../db/pool.js';

/**
 * The monthly report's figures that do not come from Lethe's ledger: the legacy cleanup service's
 * `cleanup_expired_jobs` rows (written before Lethe, or beside it, without `details.source =
 * 'lethe'`), the runbook's own monthly query over the same month, and, for a closed month, the
 * files that were late at its end but erased only after it (so a later run cannot clear a month's
 * verdict).
 */

export interface LegacyCleanupRows {
  /** audit_logs rows of the month not written by Lethe. */
  readonly rows: number;
  readonly deleted: number;
  readonly failed: number;
}

/** The runbook's "Compliance Reporting" query, summed over the calendar month (all sources). */
export interface RunbookMonthTotals {
  readonly deleted: number;
  readonly failed: number;
}

interface Period {
  readonly start: string;
  readonly end: string;
}

/** `(details->>'x')::int` as the runbook writes it, but a missing or non-integer figure counts 0 instead of failing the report. */
const figure = (field: string) => `CASE WHEN details->>'${field}' ~ '^-?[0-9]+$' THEN (details->>'${field}')::bigint ELSE 0 END`;

export async function auditMonthTotals(db: Queryable, period: Period): Promise<{ legacy: LegacyCleanupRows; runbook: RunbookMonthTotals }> {
  const { rows } = await db.query<{ legacy_rows: number; legacy_deleted: number; legacy_failed: number; deleted: number; failed: number }>(
    `SELECT count(*) FILTER (WHERE NOT lethe)::int AS legacy_rows,
            coalesce(sum(deleted) FILTER (WHERE NOT lethe), 0)::float8 AS legacy_deleted,
            coalesce(sum(failed) FILTER (WHERE NOT lethe), 0)::float8 AS legacy_failed,
            coalesce(sum(deleted), 0)::float8 AS deleted, coalesce(sum(failed), 0)::float8 AS failed
       FROM (SELECT coalesce(details->>'source', '') = 'lethe' AS lethe, ${figure('deleted_count')} AS deleted, ${figure('failed_count')} AS failed
               FROM audit_logs WHERE action = 'cleanup_expired_jobs' AND "timestamp" >= $1 AND "timestamp" < $2) a`,
    [period.start, period.end],
  );
  const r = rows[0];
  return {
    legacy: { rows: r?.legacy_rows ?? 0, deleted: r?.legacy_deleted ?? 0, failed: r?.legacy_failed ?? 0 },
    runbook: { deleted: r?.deleted ?? 0, failed: r?.failed ?? 0 },
  };
}

/**
 * Files that had expired more than `allowedMs` before the month's end and were erased (or moved to
 * the trash) only after it, and not before: they were still present, and late, at the month's end.
 * Reads the ledger from the month's end on (its erased_at BRIN range).
 */
export async function lateAtMonthEndErasedSince(db: Queryable, period: Period, allowedMs: number, notReconcile: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(DISTINCT l.file_key)::int AS n
       FROM lethe_ledger l
      WHERE l.erased_at >= $1 AND l.outcome IN ('erased', 'trashed') AND ${notReconcile}
        AND l.expires_at < $1::timestamptz - $2::bigint * interval '1 millisecond'
        AND NOT EXISTS (SELECT 1 FROM lethe_ledger e WHERE e.file_key = l.file_key AND e.outcome IN ('erased', 'trashed', 'absent') AND e.erased_at < $1 AND e.erased_at > l.expires_at)`,
    [period.end, Math.round(allowedMs)],
  );
  return rows[0]?.n ?? 0;
}

/** `YYYY-MM` of the last month that has ended at `nowIso` (UTC). */
export function lastFullMonth(nowIso: string): string {
  const now = new Date(nowIso);
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** One UTC day of the month: files erased (erased, or a trash copy purged) and failed delete attempts, from the ledger. */
export interface DailyOutcomes {
  /** `YYYY-MM-DD` (UTC). */
  readonly date: string;
  readonly erased: number;
  readonly failed: number;
}

/**
 * The month's per-day series for the report's chart: every day of the month (zeros included, up to
 * `until` for a month still running), counted as `purposeTotals` counts (so the days sum to the
 * ledger's part of the totals; reconcile rows and the legacy service's audit rows are not in it).
 */
export async function dailyOutcomes(db: Queryable, period: Period, until: string, notReconcile: string): Promise<DailyOutcomes[]> {
  // One pass over the month's ledger rows (its erased_at BRIN range), then every day of the month joined on.
  const { rows } = await db.query<{ date: string; erased: number; failed: number }>(
    `WITH counted AS (
       SELECT date_trunc('day', l.erased_at AT TIME ZONE 'UTC') AS day,
              count(*) FILTER (WHERE l.outcome IN ('erased', 'purged'))::int AS erased,
              count(*) FILTER (WHERE l.outcome = 'failed')::int AS failed
         FROM lethe_ledger l
        WHERE l.erased_at >= $1 AND l.erased_at < $2 AND ${notReconcile}
        GROUP BY 1)
     SELECT to_char(d.day, 'YYYY-MM-DD') AS date, coalesce(c.erased, 0) AS erased, coalesce(c.failed, 0) AS failed
       FROM generate_series(($1::timestamptz AT TIME ZONE 'UTC')::date, (($3::timestamptz AT TIME ZONE 'UTC') - interval '1 microsecond')::date, interval '1 day') AS d(day)
       LEFT JOIN counted c ON c.day = d.day
      ORDER BY d.day`,
    [period.start, period.end, until],
  );
  return rows;
}

/**
 * Files under a legal hold at `asOf` (placed before it, not released and not past `until` by then):
 * for a closed month, as of its end, so the figure does not change afterwards.
 */
export async function heldFilesAt(db: Queryable, asOf: string): Promise<{ readonly files: number; readonly holds: number }> {
  const { rows } = await db.query<{ files: number; holds: number }>(
    `SELECT count(DISTINCT file_key)::int AS files, count(*)::int AS holds FROM lethe_holds
      WHERE created_at < $1 AND (released_at IS NULL OR released_at >= $1) AND (until IS NULL OR until > $1)`,
    [asOf],
  );
  return { files: rows[0]?.files ?? 0, holds: rows[0]?.holds ?? 0 };
}
