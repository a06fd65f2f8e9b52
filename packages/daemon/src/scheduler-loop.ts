import { sleepUnlessAborted } from './abortable-sleep.js';
import type { Clock, Logger } from './ports.js';
import type { CronSchedule } from './schedule.js';

export interface SchedulerLoopPorts {
  readonly clock: Clock;
  readonly schedule: Pick<CronSchedule, 'nextAfter' | 'firesBetween'>;
  readonly logger: Logger;
  /** Stops the loop: a pending sleep wakes, no further fire starts. */
  readonly signal: AbortSignal;
  /** Told every time the next fire changes (heartbeat, OP-002); null when none is left. */
  readonly onNextRun: (slotMs: number | null) => void;
  /** Handles one fire; expected to handle its own errors (a throw is logged and the loop goes on). */
  readonly fire: (slotMs: number) => Promise<void>;
  /**
   * Longest single sleep: long waits are cut into pieces so a wall clock that jumps (NTP, a
   * suspended VM) is noticed within this, and timers stay far below setTimeout's 24.8-day limit.
   */
  readonly maxSleepMs?: number;
}

/**
 * Waits for each fire and handles it, one at a time. Fires that pass while one is being handled
 * (a long run) are skipped and logged, not queued: the next run deletes whatever expired meanwhile.
 * Each slot is handled at most once even if the clock steps back.
 */
export async function runSchedulerLoop(p: SchedulerLoopPorts): Promise<void> {
  const maxSleepMs = p.maxSleepMs ?? 60_000;
  let after = p.clock.now();
  while (!p.signal.aborted) {
    const slot = p.schedule.nextAfter(after);
    p.onNextRun(slot);
    if (slot === null) {
      p.logger.warn({}, 'the schedule has no further fire; the daemon keeps serving HTTP but will not run again');
      while (!p.signal.aborted) await sleepUnlessAborted(p.clock, maxSleepMs, p.signal);
      return;
    }
    p.logger.info({ nextRun: new Date(slot).toISOString() }, 'next run scheduled');
    for (let now = p.clock.now(); now < slot && !p.signal.aborted; now = p.clock.now()) {
      await sleepUnlessAborted(p.clock, Math.min(slot - now, maxSleepMs), p.signal);
    }
    if (p.signal.aborted) break;
    try {
      await p.fire(slot);
    } catch (error) {
      p.logger.error({ slot: new Date(slot).toISOString(), err: error }, 'a scheduled fire failed');
    }
    const now = p.clock.now();
    const skipped = p.schedule.firesBetween(slot, now);
    if (skipped > 0 && !p.signal.aborted) {
      p.logger.warn({ slot: new Date(slot).toISOString(), skipped }, 'fires passed while this one was handled; they are coalesced into the next');
    }
    after = Math.max(slot, now);
  }
  p.onNextRun(null);
}
