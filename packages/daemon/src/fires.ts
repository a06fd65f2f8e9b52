import type { ControlState } from '@lethe/engine';
import type { RunRecord } from '@lethe/engine/operations';
import { decideCatchUp } from './catch-up.js';
import type { Clock, Logger } from './ports.js';
import type { GuardedRunRequest, GuardedRunResult } from './run-gate.js';
import type { CronSchedule } from './schedule.js';

/** What handling a fire needs; the daemon wires these to Postgres, unit tests to fakes. */
export interface FireDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly schedule: Pick<CronSchedule, 'nextAfter' | 'lastAtOrBefore'>;
  readonly graceMs: number;
  /** `lockWaitMs` for scheduled and catch-up runs (the overlap policy). */
  readonly lockWaitMs: number;
  readonly readControl: () => Promise<ControlState>;
  /** True for exactly one caller per slot across replicas. */
  readonly claimSlot: (slotIso: string) => Promise<boolean>;
  /** Like claimSlot, but may take over a claim whose run is known not to have happened. */
  readonly claimCatchUpSlot: (slotIso: string) => Promise<boolean>;
  readonly lastRuns: () => Promise<{ last: RunRecord | null; lastSuccess: RunRecord | null }>;
  readonly run: (request: GuardedRunRequest) => Promise<GuardedRunResult>;
}

export type FireOutcome =
  | { readonly kind: 'paused' }
  | { readonly kind: 'claimed-elsewhere' }
  | { readonly kind: 'nothing-missed'; readonly reason: string }
  | { readonly kind: 'ran'; readonly result: GuardedRunResult };

/** One scheduled fire: paused -> skip and say so; else claim the slot; the claimer alone runs it. */
export async function handleScheduledFire(deps: FireDeps, slotMs: number): Promise<FireOutcome> {
  const slot = new Date(slotMs).toISOString();
  if (await skipWhenPaused(deps, slot, 'scheduled run')) return { kind: 'paused' };
  if (!(await deps.claimSlot(slot))) {
    deps.logger.info({ slot }, 'slot claimed by another replica; not running it here');
    return { kind: 'claimed-elsewhere' };
  }
  deps.logger.info({ slot, lateMs: Math.max(0, deps.clock.now() - slotMs) }, 'slot claimed; running it');
  return { kind: 'ran', result: await deps.run({ trigger: 'schedule', slot, lockWaitMs: deps.lockWaitMs }) };
}

/** On start: one coalesced run when a fire was missed (see decideCatchUp), claimed like a fire. */
export async function catchUpIfMissed(deps: FireDeps): Promise<FireOutcome> {
  const { last, lastSuccess } = await deps.lastRuns();
  const decision = decideCatchUp(deps.schedule, {
    nowMs: deps.clock.now(),
    graceMs: deps.graceMs,
    lastSuccessStartedMs: lastSuccess ? Date.parse(lastSuccess.startedAt) : null,
    anyRun: last !== null || lastSuccess !== null,
  });
  const lastSuccessAt = lastSuccess?.startedAt ?? null;
  if (!decision.catchUp) {
    deps.logger.info({ lastSuccess: lastSuccessAt, reason: decision.reason }, 'no catch-up run needed');
    return { kind: 'nothing-missed', reason: decision.reason };
  }
  const slot = new Date(decision.slotMs).toISOString();
  const missedSince = decision.missedSinceMs === null ? null : new Date(decision.missedSinceMs).toISOString();
  deps.logger.warn({ lastSuccess: lastSuccessAt, missedSince, slot, reason: decision.reason }, 'missed run detected: one catch-up run for every missed fire');
  if (await skipWhenPaused(deps, slot, 'catch-up run')) return { kind: 'paused' };
  if (!(await deps.claimCatchUpSlot(slot))) {
    deps.logger.info({ slot }, 'another replica is catching up (or already did); not running it here');
    return { kind: 'claimed-elsewhere' };
  }
  return { kind: 'ran', result: await deps.run({ trigger: 'catch-up', slot, lockWaitMs: deps.lockWaitMs }) };
}

async function skipWhenPaused(deps: FireDeps, slot: string, what: string): Promise<boolean> {
  const control = await deps.readControl();
  if (!control.paused) return false;
  deps.logger.warn(
    { slot, pausedBy: control.pausedBy, pausedAt: control.pausedAt, reason: control.reason },
    `paused: skipping the ${what} (lethe resume to go on)`,
  );
  return true;
}
