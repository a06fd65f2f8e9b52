import type { InterruptedRun } from '../db/tables/runs.js';
import type { RunSummary } from '../run/summary.js';
import type { Notification, NotificationSeverity } from './notifier.js';

/**
 * The notifications the engine sends, built from what it already records (the pause state, the
 * run summary), so a message never says something the audit rows do not.
 */

/** Who paused, as the engine's automatic guards sign their pauses (run/finish.ts, run/plan/guards.ts). */
export type PauseCause = 'manual' | 'failure_breaker' | 'blast_radius_guard';

const GUARDS: Readonly<Record<string, PauseCause>> = {
  'lethe:failure-breaker': 'failure_breaker',
  'lethe:blast-radius-guard': 'blast_radius_guard',
};

export function pauseCause(by: string): PauseCause {
  return GUARDS[by] ?? 'manual';
}

const now = (): string => new Date().toISOString();

export function pausedNotification(p: { readonly by: string; readonly reason: string; readonly at?: string | null }): Notification {
  const cause = pauseCause(p.by);
  const who = cause === 'failure_breaker' ? 'its failure breaker' : cause === 'blast_radius_guard' ? 'its blast-radius guard' : p.by;
  return {
    kind: 'paused',
    severity: cause === 'manual' ? 'warning' : 'critical',
    text: `Lethe PAUSED by ${who}: ${p.reason}. Deletions are stopped on every replica until \`lethe resume\`.`,
    at: p.at ?? now(),
    details: { cause, by: p.by, reason: p.reason },
  };
}

export function resumedNotification(r: {
  readonly by: string;
  readonly reason: string | null;
  readonly pausedBy: string | null;
  readonly pauseReason: string | null;
}): Notification {
  return {
    kind: 'resumed',
    severity: 'info',
    text: `Lethe RESUMED by ${r.by}${r.reason ? `: ${r.reason}` : ''} (it was paused by ${r.pausedBy ?? 'unknown'}: ${r.pauseReason ?? 'no reason given'}). Deletions go on at the next run.`,
    at: now(),
    details: { by: r.by, reason: r.reason, was_paused_by: r.pausedBy, pause_reason: r.pauseReason, was_paused_cause: pauseCause(r.pausedBy ?? '') },
  };
}

/**
 * A finished run worth telling someone about: failed, paused, interrupted, or completed degraded.
 * A completed run within the failure threshold, and any dry run, say nothing (null).
 */
export function runEndNotification(s: RunSummary): Notification | null {
  if (s.dry_run) return null;
  const counts = `${s.deleted_count} deleted, ${s.failed_count} failed`;
  const where = `on ${s.host} (v${s.version}) after ${s.duration_seconds}s`;
  let kind: Notification['kind'];
  let severity: NotificationSeverity;
  let text: string;
  switch (s.status) {
    case 'failed':
      kind = 'run_failed';
      severity = 'critical';
      text = `Lethe run ${s.run_id} FAILED ${where}: ${counts}${s.error ? `; ${s.error.code}: ${s.error.message}` : ''}. See \`lethe runs show ${s.run_id}\` (runbook FM-002).`;
      break;
    case 'paused':
      kind = 'run_paused';
      severity = 'warning';
      text = `Lethe run ${s.run_id} stopped at a pause ${where}: ${counts}${s.error ? `; ${s.error.message}` : ''}. It goes on after \`lethe resume\`.`;
      break;
    case 'interrupted':
      kind = 'run_interrupted';
      severity = 'warning';
      text = `Lethe run ${s.run_id} was interrupted ${where}: ${counts}. Every batch so far is recorded; the next run continues.`;
      break;
    default:
      if (!s.degraded) return null;
      kind = 'run_degraded';
      severity = 'warning';
      text = `Lethe run ${s.run_id} completed DEGRADED ${where}: ${counts}; ${s.degraded_reason ?? 'failures above the threshold'}. See \`lethe runs show ${s.run_id}\` (runbook FM-002).`;
  }
  return {
    kind,
    severity,
    text,
    at: s.ended_at,
    details: {
      run_id: s.run_id,
      status: s.status,
      trigger: s.trigger,
      run_host: s.host,
      run_version: s.version,
      started_at: s.started_at,
      ended_at: s.ended_at,
      duration_seconds: s.duration_seconds,
      policy_version: s.policy_version,
      deleted_count: s.deleted_count,
      failed_count: s.failed_count,
      degraded: s.degraded,
      degraded_reason: s.degraded_reason,
      // Codes only: file keys can carry personal data and a chat channel is not the place for them.
      error: s.error,
      failure_codes: [...new Set(s.errors.map((e) => e.code))],
      group_id: s.group_id,
    },
  };
}

/** A run whose process died, found and closed as `interrupted` by the next run on `foundOn` (db/tables/runs.ts). */
export function deadRunNotification(r: InterruptedRun, foundOn: string): Notification {
  return {
    kind: 'run_interrupted',
    severity: 'warning',
    text: `Lethe run ${r.id} (started ${r.startedAt}) did not complete: its process stopped before the end, after ${r.deleted} files deleted. The next run (on ${foundOn}) recorded it as interrupted and continues the work.`,
    at: now(),
    details: { run_id: r.id, status: 'interrupted', started_at: r.startedAt, deleted_count: r.deleted, found_on: foundOn },
  };
}

/** A real run that could not start: its preflight failed (database, schema, storage root). */
export function runNotStartedNotification(
  error: { readonly code: string; readonly message: string },
  o: { readonly host: string; readonly version: string },
): Notification {
  return {
    kind: 'run_failed',
    severity: 'critical',
    text: `Lethe could not start a run on ${o.host} (v${o.version}): ${error.code}: ${error.message}. Nothing was deleted; \`lethe doctor\` checks database, storage and clock.`,
    at: now(),
    details: { run_id: null, status: 'not_started', error, run_host: o.host, run_version: o.version },
  };
}
