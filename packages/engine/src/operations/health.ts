import { readControl, type ControlState } from '../db/tables/control.js';
import type { Queryable } from '../db/pool.js';
import type { JobsTable } from '../db/jobs-table.js';
import { countOverdueRequests } from '../requests/request-store.js';
import { restoreDetected } from '../journal/detect.js';
import { lastRuns, type RunRecord } from './history.js';
import { DEFAULT_STOPPED_RETENTION_MS, readSchedulers, type SchedulerRow } from '../db/tables/schedulers.js';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** What health is judged on, gathered from the database (pure data, so it can be tested alone). */
export interface HealthFacts {
  readonly nowMs: number;
  readonly control: ControlState;
  readonly schedulers: readonly SchedulerRow[];
  readonly lastRun: RunRecord | null;
  readonly lastSuccess: RunRecord | null;
  readonly deletedLast24h: number;
  /** Files (distinct keys) whose latest delete in the last 24 h failed and whose row is still there. */
  readonly failedLast24h: number;
  /** Erasure requests open past their deadline (docs/rights.md#overdue); 0 when not gathered. */
  readonly overdueRequests?: number;
  /** A database restore detected in the erasure journal and not yet replayed (docs/safety.md#erasures-survive-a-backup-restore). */
  readonly restoreDetected?: boolean;
}

export interface HealthOptions {
  /** Grace beyond one schedule period before a run is overdue (default 1 h). */
  readonly graceMs: number;
  /** `failed_last_24h` above this is degraded (runbook: alert if > 10). */
  readonly failureThreshold: number;
  /** Used when no scheduler reports its period (default 24 h, the runbook's daily schedule). */
  readonly defaultPeriodMs: number;
}

export const DEFAULT_HEALTH_OPTIONS: HealthOptions = Object.freeze({ graceMs: 3_600_000, failureThreshold: 10, defaultPeriodMs: 86_400_000 });

/** The runbook's health JSON, plus the reasons behind a status other than healthy. */
export interface HealthReport {
  readonly status: HealthStatus;
  readonly last_run: string | null;
  readonly last_success: string | null;
  readonly last_run_status: string | null;
  readonly next_run: string | null;
  readonly deleted_last_24h: number;
  readonly failed_last_24h: number;
  readonly paused: boolean;
  readonly paused_by?: string | null;
  readonly paused_at?: string | null;
  readonly pause_reason?: string | null;
  readonly scheduler_running: boolean;
  readonly schedulers: number;
  /** Erasure requests open past their deadline (docs/rights.md#overdue, runbook REQ-003). */
  readonly overdue_requests: number;
  /** The erasure journal is ahead of the ledger (a database restore): scheduled runs wait for `lethe replay`. */
  readonly restore_detected: boolean;
  readonly reasons: readonly string[];
}

/**
 * DESIGN "Health": healthy, or degraded (works but needs attention: paused, failures above the
 * threshold, overdue by less than a period, last run not completed), or unhealthy (no scheduler
 * running, or overdue by more than a period).
 */
export function evaluateHealth(f: HealthFacts, o: HealthOptions = DEFAULT_HEALTH_OPTIONS): HealthReport {
  const unhealthy: string[] = [];
  const degraded: string[] = [];
  const alive = f.schedulers.filter((s) => s.alive);
  const periodMs = alive[0]?.periodMs || o.defaultPeriodMs;
  const nextRun =
    alive
      .map((s) => s.nextRun)
      .filter((n): n is string => n !== null)
      .sort()[0] ?? null;
  if (alive.length === 0)
    unhealthy.push(
      f.schedulers.length > 0 ? 'no scheduler is running (the last heartbeat is stale)' : 'no scheduler has ever reported (is the daemon deployed?)',
    );
  if (f.control.paused) degraded.push(`paused by ${f.control.pausedBy ?? 'unknown'}: ${f.control.reason ?? 'no reason given'}`);
  if (nextRun !== null && Date.parse(nextRun) < f.nowMs - 60_000) degraded.push(`next_run ${nextRun} is in the past`);
  if (f.failedLast24h > o.failureThreshold)
    degraded.push(`${f.failedLast24h} files failed to delete in the last 24 h and are still failing (threshold ${o.failureThreshold})`);
  const overdue = f.overdueRequests ?? 0;
  if (overdue > 0)
    degraded.push(
      `${overdue} erasure request${overdue === 1 ? ' is' : 's are'} past ${overdue === 1 ? 'its' : 'their'} deadline (lethe requests --overdue; runbook REQ-003)`,
    );
  if (f.restoreDetected === true)
    degraded.push(
      'a database restore was detected (the erasure journal holds erasures the ledger does not): scheduled runs wait for `lethe replay` (runbook "After a database restore")',
    );
  if (f.lastRun && f.lastRun.status !== 'completed') degraded.push(`the last run ${f.lastRun.id} ended ${f.lastRun.status}`);
  else if (f.lastRun?.degraded) degraded.push(`the last run ${f.lastRun.id} finished degraded: more than 10% of its deletes failed`);
  const since = f.lastSuccess?.endedAt ?? f.lastSuccess?.startedAt ?? earliestStart(alive);
  if (since !== null) {
    const overdueMs = f.nowMs - Date.parse(since) - periodMs - o.graceMs;
    if (overdueMs > periodMs) unhealthy.push(`no successful run since ${since}: overdue by more than a schedule period`);
    else if (overdueMs > 0) degraded.push(`no successful run since ${since}: overdue by ${Math.round(overdueMs / 60_000)} min`);
  }
  const status: HealthStatus = unhealthy.length > 0 ? 'unhealthy' : degraded.length > 0 ? 'degraded' : 'healthy';
  return {
    status,
    last_run: f.lastRun?.endedAt ?? f.lastRun?.startedAt ?? null,
    last_success: f.lastSuccess?.endedAt ?? null,
    last_run_status: f.lastRun?.status ?? null,
    next_run: nextRun,
    deleted_last_24h: f.deletedLast24h,
    failed_last_24h: f.failedLast24h,
    paused: f.control.paused,
    ...(f.control.paused ? { paused_by: f.control.pausedBy, paused_at: f.control.pausedAt, pause_reason: f.control.reason } : {}),
    scheduler_running: alive.length > 0,
    schedulers: alive.length,
    overdue_requests: overdue,
    restore_detected: f.restoreDetected === true,
    reasons: [...unhealthy, ...degraded],
  };
}

function earliestStart(alive: readonly SchedulerRow[]): string | null {
  return alive.map((s) => s.startedAt).sort()[0] ?? null;
}

/**
 * `failed_last_24h` counts files still failing, not attempts: a key retried every run would count
 * once a run (560 attempts on 301 files), and the alert would keep firing after the cause was
 * fixed. A key counts when its latest ledger row of the window is `failed` and the job row whose
 * delete failed still exists (a later erase, or an operator removing the row, ends it).
 * `jobs` null (the table cannot be read): the existence check is left out.
 * Schedulers that stopped cleanly more than `stoppedRetentionMs` ago are left out (default 7 days).
 */
export async function gatherHealthFacts(
  db: Queryable,
  nowMs: number,
  staleAfterMs: number,
  jobs: JobsTable | null = null,
  stoppedRetentionMs = DEFAULT_STOPPED_RETENTION_MS,
): Promise<HealthFacts> {
  const [control, schedulers, runs, totals, failing, overdueRequests, restore] = await Promise.all([
    readControl(db),
    readSchedulers(db, staleAfterMs, stoppedRetentionMs),
    lastRuns(db),
    db.query<{ deleted: number }>(
      `SELECT coalesce(sum((details->>'deleted_count')::int), 0)::int AS deleted
         FROM audit_logs WHERE action = 'cleanup_expired_jobs' AND "timestamp" >= now() - interval '24 hours'`,
    ),
    db.query<{ n: number }>(failingFilesSql(jobs)),
    countOverdueRequests(db),
    restoreDetected(db),
  ]);
  return {
    nowMs,
    control,
    schedulers,
    lastRun: runs.last,
    lastSuccess: runs.lastSuccess,
    deletedLast24h: totals.rows[0]?.deleted ?? 0,
    failedLast24h: failing.rows[0]?.n ?? 0,
    overdueRequests,
    restoreDetected: restore,
  };
}

/** The window's ledger rows come from the erased_at BRIN range; MATERIALIZED keeps the id cast to failed rows. */
function failingFilesSql(jobs: JobsTable | null): string {
  const stillThere = jobs === null ? 'true' : `EXISTS (SELECT 1 FROM ${jobs.table} j WHERE j.${jobs.id} = f.job_id::${jobs.idType})`;
  return `WITH latest AS MATERIALIZED (
            SELECT DISTINCT ON (l.file_key) l.file_key, l.job_id, l.outcome
              FROM lethe_ledger l WHERE l.erased_at >= now() - interval '24 hours'
             ORDER BY l.file_key, l.erased_at DESC, l.id DESC),
          failing AS MATERIALIZED (SELECT job_id FROM latest WHERE outcome = 'failed')
          SELECT count(*)::int AS n FROM failing f WHERE ${stillThere}`;
}
