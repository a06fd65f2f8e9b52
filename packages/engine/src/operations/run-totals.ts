import type { Queryable } from '../db/pool.js';
import type { RunStatus } from '../run/summary.js';

/** What one finished run did, per purpose: the figures the metrics counters add up. */
export interface FinishedRunCounts {
  readonly id: string;
  readonly status: Exclude<RunStatus, 'running'>;
  readonly dryRun: boolean;
  readonly endedAt: string;
  /** ended_at - started_at (columns, so the summary is not read for it). */
  readonly durationSeconds: number;
  /** Empty for dry runs (they delete nothing). */
  readonly byPurpose: Readonly<Record<string, FinishedPurposeCounts>>;
}

export interface FinishedPurposeCounts {
  readonly erased: number;
  readonly absent: number;
  readonly failed: number;
  readonly refused: number;
  readonly shared: number;
}

type Row = {
  id: string;
  status: FinishedRunCounts['status'];
  dry_run: boolean;
  ended_at: Date;
  duration_s: number;
  by_purpose: Record<string, Partial<FinishedPurposeCounts>> | null;
  has_summary: boolean;
};
type LedgerRow = { run_id: string; purpose: string | null; erased: number; absent: number; failed: number; refused: number };

/**
 * Runs that finished (any process: daemon, `lethe run`, a CronJob, `serve`) with `ended_at` at or
 * after `since`, from Lethe's runs table, so every process's counters show the same totals.
 * Only `summary->'by_purpose'` of real runs is read (a summary can hold a thousand erased keys).
 * A run that died before its summary (interrupted, or a group worker) is counted from its ledger
 * rows (indexed by run_id), as closeInterruptedRuns counts it for its audit row.
 */
export async function finishedRunsSince(db: Queryable, since: Date | null): Promise<FinishedRunCounts[]> {
  const { rows } = await db.query<Row>(
    `SELECT r.id::text AS id, r.status, r.dry_run, r.ended_at,
            greatest(extract(epoch FROM r.ended_at - r.started_at), 0)::float8 AS duration_s,
            CASE WHEN r.dry_run THEN NULL ELSE r.summary -> 'by_purpose' END AS by_purpose,
            r.summary IS NOT NULL AS has_summary
       FROM lethe_runs r
      WHERE r.status <> 'running' AND r.ended_at IS NOT NULL AND ($1::timestamptz IS NULL OR r.ended_at >= $1)
      ORDER BY r.ended_at, r.id`,
    [since],
  );
  const fromLedger = rows.filter((r) => !r.dry_run && !r.has_summary).map((r) => r.id);
  const ledger =
    fromLedger.length === 0
      ? []
      : (
          await db.query<LedgerRow>(
            `SELECT run_id::text AS run_id, purpose_code AS purpose,
            count(*) FILTER (WHERE outcome IN ('erased', 'trashed'))::int AS erased, count(*) FILTER (WHERE outcome = 'absent')::int AS absent,
            count(*) FILTER (WHERE outcome = 'failed')::int AS failed, count(*) FILTER (WHERE outcome = 'refused')::int AS refused
       FROM lethe_ledger WHERE run_id = ANY($1::uuid[]) GROUP BY 1, 2`,
            [fromLedger],
          )
        ).rows;
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    dryRun: r.dry_run,
    endedAt: r.ended_at.toISOString(),
    durationSeconds: r.duration_s,
    byPurpose: r.dry_run ? {} : r.has_summary ? fromSummary(r.by_purpose ?? {}) : fromLedgerRows(ledger.filter((l) => l.run_id === r.id)),
  }));
}

function fromSummary(byPurpose: Record<string, Partial<FinishedPurposeCounts>>): Record<string, FinishedPurposeCounts> {
  const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return Object.fromEntries(
    Object.entries(byPurpose).map(([p, c]) => [
      p,
      { erased: n(c.erased), absent: n(c.absent), failed: n(c.failed), refused: n(c.refused), shared: n(c.shared) },
    ]),
  );
}

function fromLedgerRows(rows: readonly LedgerRow[]): Record<string, FinishedPurposeCounts> {
  return Object.fromEntries(rows.map((l) => [l.purpose ?? '(none)', { erased: l.erased, absent: l.absent, failed: l.failed, refused: l.refused, shared: 0 }]));
}
