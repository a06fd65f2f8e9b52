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
    const waitMs = this.reserve(n);
    if (waitMs > 0) await this.#clock.sleep(waitMs, signal);
  }

  /** Takes `n` tokens now (overdrawing if need be); returns how long to wait before using them, in ms. */
  reserve(n: number): number {
    if (this.#rate === 0 || n <= 0) return 0;
    this.#refill();
    this.#tokens -= n;
    return this.#tokens < 0 ? (-this.#tokens / this.#rate) * 1000 : 0;
  }

  /** Full again (nothing taken for a while): the bucket can be forgotten. */
  get idle(): boolean {
    this.#refill();
    return this.#tokens >= this.#burst;
  }
}

/** What the pipeline asks before a batch's storage call: may these keys be deleted now? */
export interface DeleteLimiter {
  admit(keys: readonly string[], signal?: AbortSignal): Promise<void>;
}

/** The part of a key S3 partitions its request rate by, as modelled here: everything up to the last "/". */
export function keyPrefix(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash + 1);
}

/** Buckets kept at most (idle ones are dropped first, so a long run over many prefixes stays bounded). */
const MAX_PREFIX_BUCKETS = 10_000;

/**
 * The run's delete pace (docs/storage-s3.md#throttling): an optional ceiling for the whole run
 * (`deletesPerSecond`, 0 = none) and an optional budget per key prefix (`deletesPerSecondPerPrefix`,
 * the S3 default 3,500: S3's documented write rate per partitioned prefix). A batch waits for the
 * slowest of them: keys spread over many prefixes go at the sum of their budgets, keys under one
 * prefix at that prefix's. The store's SlowDown answers still cut the pace in the adapter (AIMD,
 * storage/s3-throttle.ts): these budgets are the ceiling, not a promise that S3 has partitioned.
 */
export class RunDeleteLimiter implements DeleteLimiter {
  readonly #total: TokenBucket;
  readonly #perPrefix: number;
  readonly #burst: number;
  readonly #clock: Clock;
  readonly #prefixes = new Map<string, TokenBucket>();

  constructor(options: { readonly perSecond: number; readonly perPrefixPerSecond: number; readonly burst: number; readonly clock: Clock }) {
    this.#total = new TokenBucket(options.perSecond, Math.max(options.burst, options.perSecond), options.clock);
    this.#perPrefix = options.perPrefixPerSecond;
    this.#burst = Math.max(options.burst, options.perPrefixPerSecond);
    this.#clock = options.clock;
  }

  async admit(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    let waitMs = this.#total.reserve(keys.length);
    if (this.#perPrefix > 0 && keys.length > 0) {
      const counts = new Map<string, number>();
      for (const key of keys) {
        const p = keyPrefix(key);
        counts.set(p, (counts.get(p) ?? 0) + 1);
      }
      for (const [prefix, n] of counts) waitMs = Math.max(waitMs, this.#bucket(prefix).reserve(n));
    }
    if (waitMs > 0) await this.#clock.sleep(waitMs, signal);
  }

  #bucket(prefix: string): TokenBucket {
    let bucket = this.#prefixes.get(prefix);
    if (bucket === undefined) {
      if (this.#prefixes.size >= MAX_PREFIX_BUCKETS) {
        for (const [p, b] of this.#prefixes) if (b.idle) this.#prefixes.delete(p);
      }
      bucket = new TokenBucket(this.#perPrefix, this.#burst, this.#clock);
      // Still full of busy prefixes: the oldest goes (its keys then get a fresh budget: at worst one
      // burst over the rate, which SlowDown and the adapter's AIMD absorb).
      if (this.#prefixes.size >= MAX_PREFIX_BUCKETS) this.#prefixes.delete(this.#prefixes.keys().next().value!);
      this.#prefixes.set(prefix, bucket);
    }
    return bucket;
  }
}
