import type { Queryable } from '../db/pool.js';

/**
 * The monthly report's erasure requests (docs/rights.md#evidence): received and completed in the
 * month, rows refused with their statute, and requests overdue as of the month's end (or now, for
 * the running month). A closed month is judged as of its end, like the rest of the report.
 */
export interface RequestMonthTotals {
  readonly received: number;
  readonly completed: number;
  /** Completed in the month after their deadline. */
  readonly completed_late: number;
  readonly rows_erased: number;
  readonly rows_unlinked: number;
  /** Rows refused on request in the month, per purpose and statute. */
  readonly refused: readonly { readonly purpose: string; readonly statute: string; readonly rows: number }[];
  readonly held_rows: number;
  /** Open past their deadline at `as_of`. */
  readonly overdue: number;
  readonly overdue_references: readonly string[];
  readonly as_of: string;
}

export async function requestMonthTotals(db: Queryable, period: { readonly start: string; readonly end: string }, asOf: string): Promise<RequestMonthTotals> {
  const [req, ledger, refused, overdue] = await Promise.all([
    db.query<{ received: number; completed: number; late: number }>(
      `SELECT count(*) FILTER (WHERE received_at >= $1 AND received_at < $2)::int AS received,
              count(*) FILTER (WHERE completed_at >= $1 AND completed_at < $2)::int AS completed,
              count(*) FILTER (WHERE completed_at >= $1 AND completed_at < $2 AND completed_at > due_at)::int AS late
         FROM lethe_erasure_requests`,
      [period.start, period.end],
    ),
    db.query<{ erased: number; unlinked: number; held: number }>(
      `SELECT count(*) FILTER (WHERE outcome IN ('erased', 'absent', 'trashed'))::int AS erased, count(*) FILTER (WHERE outcome = 'unlinked')::int AS unlinked,
              count(DISTINCT (request_ref, job_id)) FILTER (WHERE outcome = 'held')::int AS held
         FROM lethe_ledger WHERE request_ref IS NOT NULL AND erased_at >= $1 AND erased_at < $2`,
      [period.start, period.end],
    ),
    db.query<{ purpose: string; statute: string; rows: number }>(
      `SELECT coalesce(purpose_code, '') AS purpose, coalesce(error, '') AS statute, count(DISTINCT (request_ref, job_id))::int AS rows
         FROM lethe_ledger WHERE request_ref IS NOT NULL AND outcome = 'retained' AND erased_at >= $1 AND erased_at < $2 GROUP BY 1, 2 ORDER BY 1, 2`,
      [period.start, period.end],
    ),
    // Overdue at as_of: received by then, due before it, and not completed by then.
    db.query<{ reference: string }>(
      `SELECT reference FROM lethe_erasure_requests
        WHERE received_at < $1 AND due_at < $1 AND (completed_at IS NULL OR completed_at > $1) ORDER BY due_at LIMIT 1000`,
      [asOf],
    ),
  ]);
  const r = req.rows[0]!;
  const l = ledger.rows[0]!;
  return {
    received: r.received,
    completed: r.completed,
    completed_late: r.late,
    rows_erased: l.erased,
    rows_unlinked: l.unlinked,
    refused: refused.rows,
    held_rows: l.held,
    overdue: overdue.rows.length,
    overdue_references: overdue.rows.map((x) => x.reference),
    as_of: asOf,
  };
}
