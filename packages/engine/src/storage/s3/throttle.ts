import type { Clock } from '../../ports.js';

/**
 * Throttling (docs/storage-s3.md#throttling-and-the-send-rate): S3 allows about 3,500 DELETE/s per prefix and answers 503 SlowDown past
 * it; other stores answer 429 or 5xx. Two mechanisms, both per adapter (each worker thread has
 * its own):
 *
 * - retries: a throttled or transient request is resent after an exponential backoff with full
 *   jitter (`backoffMs`), up to `maxAttempts`;
 * - the send rate: AIMD on keys per second. Unpaced at first (the engine's token bucket holds the
 *   configured ceiling). On throttling the pace is cut to half of what was being sent; then each
 *   request that goes through adds a step, and once the pace is back at the rate that was
 *   throttled, pacing is lifted. Like TCP, one episode cuts once: a throttle on a request that
 *   was sent before the last cut says nothing new about the cut rate; only a request sent at the
 *   cut rate and still throttled cuts again (and only such a request's success raises the pace).
 */
export interface SendRateOptions {
  readonly clock: Clock;
  /** Lowest pace the controller cuts to, keys per second. */
  readonly floorPerSecond?: number;
  /** Window over which the sent rate is measured when throttling begins. */
  readonly windowMs?: number;
  /** Successful requests needed to climb from the first cut back to the rate that was throttled. */
  readonly recoverySteps?: number;
}

export interface SendRateSnapshot {
  /** Current pace in keys per second; null when unpaced. */
  readonly limitPerSecond: number | null;
  readonly throttles: number;
  readonly cuts: number;
  readonly recoveries: number;
}

/** Identifies one admitted request (to tell which side of a cut it was sent on). */
export type Admission = number;

export class AdaptiveSendRate {
  readonly #clock: Clock;
  readonly #floor: number;
  readonly #windowMs: number;
  readonly #recoverySteps: number;
  #limit: number | null = null;
  #liftAt = 0;
  #step = 0;
  #nextAt = 0;
  #seq = 0;
  #cutAt: Admission = -1;
  #sent: { at: number; keys: number }[] = [];
  #throttles = 0;
  #cuts = 0;
  #recoveries = 0;

  constructor(options: SendRateOptions) {
    this.#clock = options.clock;
    this.#floor = options.floorPerSecond ?? 10;
    this.#windowMs = options.windowMs ?? 2000;
    this.#recoverySteps = options.recoverySteps ?? 10;
  }

  /** Waits until a request carrying `keys` keys may be sent under the current pace. */
  async admit(keys: number, signal?: AbortSignal): Promise<Admission> {
    const now = this.#clock.now();
    if (this.#limit !== null) {
      const start = Math.max(now, this.#nextAt);
      this.#nextAt = start + (keys / this.#limit) * 1000;
      if (start > now) await this.#clock.sleep(start - now, signal);
    }
    const at = this.#clock.now();
    this.#sent.push({ at, keys });
    while (this.#sent.length > 0 && this.#sent[0]!.at < at - this.#windowMs) this.#sent.shift();
    this.#seq += 1;
    return this.#seq;
  }

  /** Keys per second sent lately: over the window, or over a quarter second for a lone burst. */
  #recentRate(): number {
    const now = this.#clock.now();
    const keys = this.#sent.reduce((sum, s) => sum + s.keys, 0);
    const spanMs = Math.max(250, now - (this.#sent[0]?.at ?? now));
    return (keys / spanMs) * 1000;
  }

  /** The request admitted as `admission` was throttled: multiplicative decrease, once an episode. */
  throttled(admission: Admission): void {
    this.#throttles += 1;
    if (admission <= this.#cutAt) return;
    this.#cutAt = this.#seq;
    this.#cuts += 1;
    if (this.#limit === null) {
      const sent = Math.max(this.#floor * 2, this.#recentRate());
      this.#liftAt = sent;
      this.#limit = Math.max(this.#floor, sent / 2);
      this.#step = Math.max(1, (sent - this.#limit) / this.#recoverySteps);
    } else {
      this.#limit = Math.max(this.#floor, this.#limit / 2);
    }
    this.#nextAt = Math.max(this.#nextAt, this.#clock.now());
  }

  /** The request admitted as `admission` went through: additive increase. */
  succeeded(admission: Admission): void {
    if (this.#limit === null || admission <= this.#cutAt) return;
    this.#limit += this.#step;
    if (this.#limit >= this.#liftAt) {
      this.#limit = null;
      this.#recoveries += 1;
    }
  }

  snapshot(): SendRateSnapshot {
    return {
      limitPerSecond: this.#limit === null ? null : Math.round(this.#limit),
      throttles: this.#throttles,
      cuts: this.#cuts,
      recoveries: this.#recoveries,
    };
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
