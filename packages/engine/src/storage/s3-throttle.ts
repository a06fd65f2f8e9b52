import type { Clock } from '../ports.js';

/**
 * Throttling (issue 3): S3 allows about 3,500 DELETE/s per prefix and answers 503 SlowDown past
 * it; other stores answer 429 or 5xx. Two mechanisms, both per adapter (each worker thread has
 * its own):
 *
 * - retries: a throttled or transient request is resent after an exponential backoff with full
 *   jitter (`backoffMs`), up to `maxAttempts`;
 * - the send rate: AIMD on keys per second. Unpaced at first (the engine's token bucket is the
 *   configured ceiling). On throttling the rate is cut to half of what was being sent (once per
 *   episode: throttles within `cooldownMs` of a cut count as the same one), then every request
 *   that succeeds adds a fixed step; when the rate is back above what was sent when throttling
 *   began, pacing is lifted again.
 */
export interface SendRateOptions {
  readonly clock: Clock;
  /** Lowest rate the controller cuts to, keys per second. */
  readonly floorPerSecond?: number;
  /** Throttles within this long of a cut belong to the same episode. */
  readonly cooldownMs?: number;
  /** Window over which the sent rate is measured when throttling begins. */
  readonly windowMs?: number;
  /** Successful requests needed to climb from the cut back to the rate that was throttled. */
  readonly recoverySteps?: number;
}

export interface SendRateSnapshot {
  /** Current pace in keys per second; null when unpaced. */
  readonly limitPerSecond: number | null;
  readonly throttles: number;
  readonly cuts: number;
  readonly recoveries: number;
}

export class AdaptiveSendRate {
  readonly #clock: Clock;
  readonly #floor: number;
  readonly #cooldownMs: number;
  readonly #windowMs: number;
  readonly #recoverySteps: number;
  #limit: number | null = null;
  #liftAt = 0;
  #step = 0;
  #nextAt = 0;
  #lastCut = Number.NEGATIVE_INFINITY;
  #sent: { at: number; keys: number }[] = [];
  #throttles = 0;
  #cuts = 0;
  #recoveries = 0;

  constructor(options: SendRateOptions) {
    this.#clock = options.clock;
    this.#floor = options.floorPerSecond ?? 10;
    this.#cooldownMs = options.cooldownMs ?? 1000;
    this.#windowMs = options.windowMs ?? 2000;
    this.#recoverySteps = options.recoverySteps ?? 10;
  }

  /** Waits until a request carrying `keys` keys may be sent under the current pace. */
  async admit(keys: number, signal?: AbortSignal): Promise<void> {
    const now = this.#clock.now();
    if (this.#limit !== null) {
      const start = Math.max(now, this.#nextAt);
      this.#nextAt = start + (keys / this.#limit) * 1000;
      if (start > now) await this.#clock.sleep(start - now, signal);
    }
    this.#record(keys);
  }

  #record(keys: number): void {
    const now = this.#clock.now();
    this.#sent.push({ at: now, keys });
    while (this.#sent.length > 0 && this.#sent[0]!.at < now - this.#windowMs) this.#sent.shift();
  }

  #recentRate(): number {
    const keys = this.#sent.reduce((sum, s) => sum + s.keys, 0);
    return (keys / this.#windowMs) * 1000;
  }

  /** A request was throttled: cut the pace (multiplicative decrease), once per episode. */
  throttled(): void {
    this.#throttles += 1;
    const now = this.#clock.now();
    if (now - this.#lastCut < this.#cooldownMs) return;
    this.#lastCut = now;
    this.#cuts += 1;
    if (this.#limit === null) {
      const sent = Math.max(this.#floor * 2, this.#recentRate());
      this.#liftAt = sent;
      this.#limit = Math.max(this.#floor, sent / 2);
      this.#step = Math.max(1, (sent - this.#limit) / this.#recoverySteps);
    } else {
      this.#limit = Math.max(this.#floor, this.#limit / 2);
    }
    this.#nextAt = Math.max(this.#nextAt, now);
  }

  /** A request went through: raise the pace by one step (additive increase). */
  succeeded(): void {
    if (this.#limit === null) return;
    if (this.#clock.now() - this.#lastCut < this.#cooldownMs) return;
    this.#limit += this.#step;
    if (this.#limit >= this.#liftAt) {
      this.#limit = null;
      this.#recoveries += 1;
    }
  }

  snapshot(): SendRateSnapshot {
    return { limitPerSecond: this.#limit === null ? null : Math.round(this.#limit), throttles: this.#throttles, cuts: this.#cuts, recoveries: this.#recoveries };
  }
}

/** Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^attempt)). */
export function backoffMs(attempt: number, baseMs: number, capMs = 20_000, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

/** A counting semaphore: at most `limit` holders; waiters are served in order. */
export class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = Math.max(1, limit);
  }

  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free -= 1;
    else await new Promise<void>((resolve) => this.#waiters.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free += 1;
    };
  }
}
