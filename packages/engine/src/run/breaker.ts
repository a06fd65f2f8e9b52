import type { OutcomeKind } from '../ports.js';

export interface BreakerOptions {
  /** Deletes the sliding window covers. */
  readonly window: number;
  /** Share of failures in a full window that stops the run and pauses Lethe (runbook FM-002: > 50%). */
  readonly tripShare: number;
}

/**
 * The failure breaker (runbook FM-002): over the last `window` delete outcomes (erased, absent,
 * failed; refusals are not storage's fault and do not count), more than `tripShare` failures trips
 * it. A ring buffer of booleans: constant memory whatever the run's size.
 */
export class FailureBreaker {
  readonly #ring: Uint8Array;
  readonly #tripShare: number;
  #next = 0;
  #filled = 0;
  #failures = 0;

  constructor(options: BreakerOptions) {
    this.#ring = new Uint8Array(Math.max(1, options.window));
    this.#tripShare = options.tripShare;
  }

  record(outcome: OutcomeKind): void {
    if (outcome === 'refused') return;
    const failed = outcome === 'failed' ? 1 : 0;
    if (this.#filled === this.#ring.length) this.#failures -= this.#ring[this.#next]!;
    else this.#filled++;
    this.#ring[this.#next] = failed;
    this.#failures += failed;
    this.#next = (this.#next + 1) % this.#ring.length;
  }

  /** Failure share over the window, once it is full; null before. */
  get share(): number | null {
    return this.#filled < this.#ring.length ? null : this.#failures / this.#filled;
  }

  get tripped(): boolean {
    const share = this.share;
    return share !== null && share > this.#tripShare;
  }
}
