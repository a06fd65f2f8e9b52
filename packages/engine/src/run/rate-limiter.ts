import type { Clock } from '../ports.js';

/**
 * Token bucket for deletes per second. `take(n)` may overdraw (a batch is larger than a second's
 * worth at low rates); the debt is paid by waiting, so the long-run rate never exceeds the limit.
 * A rate of 0 means unlimited. `setRate` lets an adaptive controller lower and raise the ceiling.
 */
export class TokenBucket {
  #rate: number;
  readonly #ceiling: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  readonly #clock: Clock;

  constructor(ratePerSecond: number, burst: number, clock: Clock) {
    this.#rate = ratePerSecond;
    this.#ceiling = ratePerSecond;
    this.#burst = Math.max(1, burst);
    this.#tokens = this.#burst;
    this.#clock = clock;
    this.#last = clock.now();
  }

  get rate(): number {
    return this.#rate;
  }

  /** Lowers or raises the rate, never above the configured ceiling. */
  setRate(ratePerSecond: number): void {
    if (this.#ceiling === 0) return;
    this.#refill();
    this.#rate = Math.max(1, Math.min(this.#ceiling, ratePerSecond));
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
  }

  /** Waits until `n` deletes may start. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (this.#rate === 0 || n <= 0) return;
    this.#refill();
    this.#tokens -= n;
    if (this.#tokens < 0) await this.#clock.sleep((-this.#tokens / this.#rate) * 1000, signal);
  }
}
