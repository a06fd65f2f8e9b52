import type { CronSchedule } from './schedule.js';

export interface CatchUpFacts {
  readonly nowMs: number;
  readonly graceMs: number;
  /** Start of the latest completed real run (null when none ever completed). */
  readonly lastSuccessStartedMs: number | null;
  /** Whether any real run was ever recorded (a fresh install has none). */
  readonly anyRun: boolean;
}

export type CatchUpDecision =
  | { readonly catchUp: false; readonly reason: string }
  /** `slotMs`: the latest missed fire, claimed so one replica alone catches up; `missedSinceMs`: the first one. */
  | { readonly catchUp: true; readonly slotMs: number; readonly missedSinceMs: number | null; readonly reason: string };

/**
 * Missed runs (docs/daemon.md#missed-runs): run once on start when the last successful run is older than the
 * schedule's period plus the grace. Measured exactly as "the first fire after the last success
 * started is more than `graceMs` in the past", which is the same for a regular schedule and stays
 * right for irregular ones (weekdays only, month ends) and after a manual run between fires. The
 * grace keeps a replica that starts while another is still running the slot from running it again.
 * However many fires were missed, one run catches up (coalesced, never replayed per slot).
 */
export function decideCatchUp(schedule: Pick<CronSchedule, 'nextAfter' | 'lastAtOrBefore'>, f: CatchUpFacts): CatchUpDecision {
  const horizon = f.nowMs - f.graceMs;
  if (f.lastSuccessStartedMs === null && !f.anyRun) {
    return { catchUp: false, reason: 'no run was ever recorded on this database: the first run is the next scheduled fire' };
  }
  const missedSince = f.lastSuccessStartedMs === null ? null : schedule.nextAfter(f.lastSuccessStartedMs);
  if (missedSince !== null && missedSince > horizon) {
    return { catchUp: false, reason: 'the last successful run is recent enough (no fire missed beyond the grace)' };
  }
  if (f.lastSuccessStartedMs !== null && missedSince === null) {
    return { catchUp: false, reason: 'the schedule has no fire after the last successful run' };
  }
  const slot = schedule.lastAtOrBefore(horizon);
  if (slot === null) return { catchUp: false, reason: 'no scheduled fire lies before now minus the grace' };
  return {
    catchUp: true,
    slotMs: slot,
    missedSinceMs: missedSince,
    reason: f.lastSuccessStartedMs === null ? 'runs were recorded but none completed' : 'a scheduled fire after the last successful run was missed',
  };
}
