import { describeError, type ControlState } from '@lethe/engine';
import { sleepUnlessAborted } from './abortable-sleep.js';
import type { Clock, Logger } from './ports.js';

export interface PauseWatchDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly readControl: () => Promise<ControlState>;
  readonly signal: AbortSignal;
}

/**
 * Logs each change of the shared pause flag (EMERGENCY-001, OP-003) as this daemon sees it, so its
 * log says when scheduled runs stopped and started again, whoever paused (`lethe pause`, the admin
 * API, another replica's operator). The first reading is logged only when already paused.
 */
export async function watchPauseState(d: PauseWatchDeps): Promise<void> {
  let paused: boolean | null = null;
  while (!d.signal.aborted) {
    try {
      const control = await d.readControl();
      if (control.paused && paused !== true) {
        d.logger.warn(
          { pausedBy: control.pausedBy, pausedAt: control.pausedAt, reason: control.reason },
          'Lethe is paused: scheduled runs are skipped until `lethe resume`',
        );
      } else if (!control.paused && paused === true) {
        d.logger.info({}, 'Lethe was resumed: scheduled runs go on at the next fire');
      }
      paused = control.paused;
    } catch (error) {
      d.logger.debug({ error: describeError(error) }, 'could not read the pause flag; trying again at the next beat');
    }
    await sleepUnlessAborted(d.clock, d.intervalMs, d.signal);
  }
}
