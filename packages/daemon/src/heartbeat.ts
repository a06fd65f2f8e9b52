import { describeError, writeHeartbeat, type Queryable, type SchedulerBeat } from '@lethe/engine';
import { sleepUnlessAborted } from './abortable-sleep.js';
import type { Clock, Logger } from './ports.js';

export interface HeartbeatDeps {
  readonly db: Queryable;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intervalMs: number;
  /** The row as of now (next run, period, state). */
  readonly beat: () => SchedulerBeat;
}

/**
 * The daemon's `lethe_schedulers` row: rewritten every interval and whenever the next run changes,
 * so `lethe status`, the health endpoint and other replicas see the next run (OP-002) and whether
 * a scheduler is alive (OP-003, FM-001). Writes are serialized; a failed write is logged (once per
 * streak of failures) and retried at the next beat, never fatal.
 */
export class Heartbeat {
  readonly #deps: HeartbeatDeps;
  #chain: Promise<void> = Promise.resolve();
  #failing = false;

  constructor(deps: HeartbeatDeps) {
    this.#deps = deps;
  }

  /** Queues a write of the current row; resolves once it is written (or failed and was logged). */
  write(): Promise<void> {
    this.#chain = this.#chain.then(() => this.#writeNow());
    return this.#chain;
  }

  /** Beats until `signal` aborts. */
  async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleepUnlessAborted(this.#deps.clock, this.#deps.intervalMs, signal);
      if (!signal.aborted) await this.write();
    }
  }

  async #writeNow(): Promise<void> {
    try {
      await writeHeartbeat(this.#deps.db, this.#deps.beat());
      if (this.#failing) this.#deps.logger.info({}, 'heartbeat written again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) this.#deps.logger.warn({ error: describeError(error) }, 'could not write the scheduler heartbeat; retrying at the next beat');
      this.#failing = true;
    }
  }
}
