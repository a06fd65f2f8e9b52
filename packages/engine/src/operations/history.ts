import type { Queryable } from '../db/pool.js';
import type { RunStatus, RunSummary } from '../run/summary.js';

/** One line of run history (runbook OP-004), from Lethe's runs table. */
export interface RunRecord {
  readonly id: string;
  readonly trigger: string;
  readonly status: RunStatus;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly cutoff: string | null;
  readonly policyVersion: number | null;
  readonly host: string | null;
  readonly version: string | null;
  /** Files the run deleted (0 for a dry run: see wouldDelete). */
  readonly deleted: number | null;
  readonly failed: number | null;
  /** Dry runs: rows the run would have deleted (its summary's would_delete_count); null for real runs. */
  readonly wouldDelete: number | null;
  readonly durationSeconds: number | null;
  readonly error: string | null;
  /** Finished with failures above the degraded share (see RunSummary.degraded). */
  readonly degraded: boolean;
  readonly progress: Record<string, unknown> | null;
}

type Row = {
  id: string;
  trigger: string;
  status: RunStatus;
  dry_run: boolean;
  started_at: Date;
  ended_at: Date | null;
  cutoff: Date | null;
  policy_version: number | null;
  host: string | null;
  version: string | null;
  summary: RunSummary | null;
  error: string | null;
  progress: Record<string, unknown> | null;
  ledger_deleted: number | null;
  ledger_failed: number | null;
};

const SELECT = `SELECT r.*, NULL::int AS ledger_deleted, NULL::int AS ledger_failed FROM lethe_runs r`;

function toRecord(r: Row): RunRecord {
  return {
    id: r.id,
    trigger: r.trigger,
    status: r.status,
    dryRun: r.dry_run,
    startedAt: r.started_at.toISOString(),
    endedAt: r.ended_at?.toISOString() ?? null,
    cutoff: r.cutoff?.toISOString() ?? null,
    policyVersion: r.policy_version,
    host: r.host,
    version: r.version,
    deleted: r.summary ? r.summary.deleted_count : r.ledger_deleted,
    failed: r.summary ? r.summary.failed_count : r.ledger_failed,
    wouldDelete: r.dry_run ? (r.summary?.would_delete_count ?? null) : null,
    durationSeconds: r.summary?.duration_seconds ?? (r.ended_at ? (r.ended_at.getTime() - r.started_at.getTime()) / 1000 : null),
    error: r.error,
    degraded: r.summary?.degraded === true,
    progress: r.progress,
  };
}

/**
 * How a run ended, for people: a run that completed with failures above the degraded share is
 * `completed (degraded)`, not a plain `completed` (runbook FM-002); the raw status stays in `status`.
 */
export function runStatusLabel(r: Pick<RunRecord, 'status' | 'degraded'>): string {
  return r.status === 'completed' && r.degraded ? 'completed (degraded)' : r.status;
}

export interface HistoryQuery {
  readonly limit?: number;
  readonly includeDryRuns?: boolean;
}

export async function listRuns(db: Queryable, q: HistoryQuery = {}): Promise<RunRecord[]> {
  const { rows } = await db.query<Row>(
    `SELECT r.*,
            (SELECT count(*) FILTER (WHERE l.outcome IN ('erased', 'absent', 'trashed'))::int FROM lethe_ledger l WHERE l.run_id = r.id AND r.summary IS NULL) AS ledger_deleted,
            (SELECT count(*) FILTER (WHERE l.outcome = 'failed')::int FROM lethe_ledger l WHERE l.run_id = r.id AND r.summary IS NULL) AS ledger_failed
       FROM lethe_runs r WHERE ($2 OR NOT r.dry_run) ORDER BY r.started_at DESC LIMIT $1`,
    [q.limit ?? 10, q.includeDryRuns ?? false],
  );
  return rows.map(toRecord);
}

export interface RunDetail {
  readonly run: RunRecord;
  readonly summary: RunSummary | null;
  /** Failures and refusals from the ledger, grouped by code, with sample keys (runbook FM-002). */
  readonly failuresByCode: readonly { outcome: string; code: string; count: number; sampleKeys: string[] }[];
}

export async function getRun(db: Queryable, id: string): Promise<RunDetail | null> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
  const { rows } = await db.query<Row>(`${SELECT} WHERE r.id = $1`, [id]);
  const row = rows[0];
  if (!row) return null;
  const groups = await db.query<{ outcome: string; code: string; count: number; sample_keys: string[] }>(
    `SELECT outcome, coalesce(error_code, 'UNKNOWN') AS code, count(*)::int AS count, (array_agg(file_key ORDER BY id))[1:5] AS sample_keys
       FROM lethe_ledger WHERE run_id = $1 AND outcome NOT IN ('erased', 'absent', 'trashed') GROUP BY 1, 2 ORDER BY count DESC`,
    [id],
  );
  return {
    run: toRecord(row),
    summary: row.summary,
    failuresByCode: groups.rows.map((g) => ({ outcome: g.outcome, code: g.code, count: g.count, sampleKeys: g.sample_keys })),
  };
}

/** The run in progress, if any (EMERGENCY-001 step 2). */
export async function currentRun(db: Queryable): Promise<RunRecord | null> {
  const { rows } = await db.query<Row>(`${SELECT} WHERE r.status = 'running' ORDER BY r.started_at DESC LIMIT 1`);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** The latest finished real run, and the latest completed one. */
export async function lastRuns(db: Queryable): Promise<{ last: RunRecord | null; lastSuccess: RunRecord | null }> {
  const last = await db.query<Row>(`${SELECT} WHERE NOT r.dry_run AND r.status <> 'running' ORDER BY r.started_at DESC LIMIT 1`);
  const ok = await db.query<Row>(`${SELECT} WHERE NOT r.dry_run AND r.status = 'completed' ORDER BY r.started_at DESC LIMIT 1`);
  return { last: last.rows[0] ? toRecord(last.rows[0]) : null, lastSuccess: ok.rows[0] ? toRecord(ok.rows[0]) : null };
}
