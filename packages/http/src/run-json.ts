import { type ControlState } from '@lethe/engine';
import { runStatusLabel, type RunDetail, type RunRecord } from '@lethe/engine/operations';

/** The API speaks snake_case JSON, like the runbook's health JSON and the runs' audit rows. */
export function runJson(r: RunRecord) {
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
    deleted_count: r.deleted,
    failed_count: r.failed,
    would_delete_count: r.wouldDelete,
    duration_seconds: r.durationSeconds,
    error: r.error,
    progress: r.progress,
  };
}

export function runDetailJson(d: RunDetail) {
  return {
    run: runJson(d.run),
    summary: d.summary,
    failures_by_code: d.failuresByCode.map((f) => ({ outcome: f.outcome, code: f.code, count: f.count, sample_keys: f.sampleKeys })),
  };
}

export function controlJson(c: ControlState) {
  return { paused: c.paused, paused_by: c.pausedBy, paused_at: c.pausedAt, reason: c.reason };
}
