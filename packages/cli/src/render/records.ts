import { type SchedulerRow } from '@lethe/engine';
import { runStatusLabel, type RunRecord } from '@lethe/engine/operations';

/**
 * The CLI's JSON speaks snake_case, as the run summary and the audit rows do, so scripts see one
 * convention whatever the command. These map the engine's records to it.
 */
export interface RunJson {
  readonly id: string;
  readonly trigger: string;
  readonly status: string;
  /** `completed (degraded)` for a run that completed above the failure threshold; else the status. */
  readonly status_label: string;
  readonly degraded: boolean;
  readonly dry_run: boolean;
  readonly started_at: string;
  readonly ended_at: string | null;
  readonly cutoff: string | null;
  readonly policy_version: number | null;
  readonly host: string | null;
  readonly version: string | null;
  readonly deleted: number | null;
  readonly failed: number | null;
  /** Dry runs: what the run would have deleted (null for real runs). */
  readonly would_delete: number | null;
  readonly duration_seconds: number | null;
  readonly error: string | null;
  readonly progress: Record<string, unknown> | null;
}

export function runJson(r: RunRecord): RunJson {
  return {
    id: r.id,
    trigger: r.trigger,
    status: r.status,
    status_label: runStatusLabel(r),
    degraded: r.degraded,
    dry_run: r.dryRun,
    started_at: r.startedAt,
    ended_at: r.endedAt,
    cutoff: r.cutoff,
    policy_version: r.policyVersion,
    host: r.host,
    version: r.version,
    deleted: r.deleted,
    failed: r.failed,
    would_delete: r.wouldDelete,
    duration_seconds: r.durationSeconds,
    error: r.error,
    progress: r.progress,
  };
}

export function schedulerJson(s: SchedulerRow): Record<string, unknown> {
  return {
    instance_id: s.instanceId,
    host: s.host,
    pid: s.pid,
    version: s.version,
    schedule: s.schedule,
    timezone: s.timezone,
    period_ms: s.periodMs,
    next_run: s.nextRun,
    state: s.state,
    started_at: s.startedAt,
    last_beat: s.lastBeat,
    alive: s.alive,
  };
}
