import { systemClock } from '../clock.js';
import { ErrorCodes } from '../errors.js';
import type { Clock, KeyOutcome, ObjectInfo, StoragePort } from '../ports.js';

/**
 * Storage faults injected at the adapter boundary (docs/safety.md#storage-that-lies): a wrapper around a
 * real adapter (FileStorage, S3Storage) that makes chosen keys, or a seeded share of keys, fail
 * the way real stores fail, and can make a whole `deleteMany` throw (a worker that crashed).
 *
 * Two moments a fault can strike, because they leave different states behind:
 * - `before` (default): the store never acted; the object is still there.
 * - `after`: the store deleted the object but its answer was lost (a connection reset after
 *   the server acted, a worker that died after unlinking). The key is reported failed although
 *   the object is gone: the row must be kept, and the next run must find it `absent`.
 *
 * A timeout never hangs: the key's outcome is `failed` with `ETIMEDOUT` once `delayMs` has
 * passed on the given clock (or at once when the signal aborts), so no outcome is ever lost.
 */

export type FaultCode = 'EACCES' | 'EIO' | 'ETIMEDOUT' | 'ECONNRESET' | 'SlowDown' | 'InternalError' | (string & {});

export interface KeyFault {
  readonly code: FaultCode;
  readonly when?: 'before' | 'after';
  /** ETIMEDOUT only: how long the request "hung" before it timed out (default 20 ms). */
  readonly delayMs?: number;
  readonly message?: string;
  readonly retryable?: boolean;
}

export interface CrashFault {
  /** Which `deleteMany` call throws, counting from 1 in the order calls arrive. */
  readonly call: number;
  /** `after`: the inner store deleted the batch's keys first, then the call threw. */
  readonly when?: 'before' | 'after';
  readonly message?: string;
}

export interface FaultPlan {
  /** Faults for chosen keys. */
  readonly keys?: Readonly<Record<string, KeyFault>>;
  /** A seeded share of all keys (the same keys for the same seed, whatever the batching). */
  readonly share?: { readonly seed: number; readonly fraction: number; readonly faults: readonly KeyFault[] };
  readonly crashes?: readonly CrashFault[];
}

/** What was injected, for tests to compare with the run's summary and ledger. */
export interface InjectedFault {
  readonly key: string;
  readonly code: string;
  readonly when: 'before' | 'after';
  readonly call: number;
  /** True when the fault was a whole-call crash rather than a per-key fault. */
  readonly crash: boolean;
}

const DEFAULTS: Readonly<Record<string, { readonly message: string; readonly retryable: boolean }>> = {
  EACCES: { message: 'EACCES: permission denied, unlink', retryable: false },
  EIO: { message: 'EIO: i/o error, unlink', retryable: true },
  ETIMEDOUT: { message: 'ETIMEDOUT: the delete timed out', retryable: true },
  ECONNRESET: { message: 'ECONNRESET: connection reset by peer', retryable: true },
  SlowDown: { message: 'SlowDown (HTTP 503): Please reduce your request rate.', retryable: true },
  InternalError: { message: 'InternalError (HTTP 500): We encountered an internal error. Please try again.', retryable: true },
};

/** mulberry32: a small seeded PRNG, uniform on [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A value on [0, 1) that depends only on the seed and the key (FNV-1a, then one PRNG step). */
function keyDraw(seed: number, key: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return seededRandom(h)();
}

export interface FaultInjectingStorageOptions {
  /** Times ETIMEDOUT delays; a FakeClock makes them wait for `advance`. Default: the system clock. */
  readonly clock?: Clock;
}

export class FaultInjectingStorage implements StoragePort {
  readonly describe: string;
  /** Every fault injected so far, in order. */
  readonly injected: InjectedFault[] = [];
  /** Set to false to pass every call straight through (the "next run without faults"). */
  enabled = true;
  readonly #inner: StoragePort;
  readonly #plan: FaultPlan;
  readonly #clock: Clock;
  #calls = 0;

  constructor(inner: StoragePort, plan: FaultPlan, options: FaultInjectingStorageOptions = {}) {
    this.#inner = inner;
    this.#plan = plan;
    this.#clock = options.clock ?? systemClock;
    this.describe = inner.describe;
  }

  /** `deleteMany` calls seen so far (with faults enabled or not). */
  get calls(): number {
    return this.#calls;
  }

  /** The fault planned for a key, if any (chosen keys first, then the seeded share). */
  faultFor(key: string): KeyFault | null {
    const chosen = this.#plan.keys?.[key];
    if (chosen) return chosen;
    const share = this.#plan.share;
    if (!share || share.faults.length === 0 || keyDraw(share.seed, key) >= share.fraction) return null;
    return share.faults[Math.floor(keyDraw(share.seed + 1, key) * share.faults.length)]!;
  }

  async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<KeyOutcome[]> {
    const call = ++this.#calls;
    if (!this.enabled) return this.#inner.deleteMany(keys, signal);
    const crash = this.#plan.crashes?.find((c) => c.call === call);
    if (crash) return this.#crash(call, crash, keys, signal);
    const faults = keys.map((key) => this.faultFor(key));
    // Keys faulted `before` never reach the store; the rest (including `after`) do.
    const pass = keys.filter((_, i) => faults[i] === null || faults[i]?.when === 'after');
    const [done] = await Promise.all([
      pass.length === 0 ? Promise.resolve([]) : this.#inner.deleteMany(pass, signal),
      ...faults.map((f) => (f?.code === 'ETIMEDOUT' ? this.#wait(f.delayMs ?? 20, signal) : Promise.resolve())),
    ]);
    const byKey = new Map<string, KeyOutcome>();
    for (const o of done) if (!byKey.has(o.key)) byKey.set(o.key, o);
    return keys.map((key, i): KeyOutcome => {
      const fault = faults[i];
      const inner = byKey.get(key);
      if (!fault) return inner ?? { key, outcome: 'failed', code: ErrorCodes.STORAGE, message: 'the wrapped storage returned no outcome for this key' };
      // An `after` fault on a key the store refused or failed itself keeps the store's answer.
      if (inner && (inner.outcome === 'refused' || inner.outcome === 'failed')) return inner;
      const when = fault.when ?? 'before';
      this.injected.push({ key, code: fault.code, when, call, crash: false });
      const d = DEFAULTS[fault.code];
      const aborted = fault.code === 'ETIMEDOUT' && signal?.aborted ? ' (the run stopped while it waited)' : '';
      return {
        key,
        outcome: 'failed',
        code: fault.code,
        message: `${fault.message ?? d?.message ?? `${fault.code}: injected fault`}${aborted}${when === 'after' ? ' (after the store acted)' : ''}`,
        retryable: fault.retryable ?? d?.retryable ?? true,
      };
    });
  }

  async #crash(call: number, crash: CrashFault, keys: readonly string[], signal?: AbortSignal): Promise<never> {
    const when = crash.when ?? 'before';
    if (when === 'after') await this.#inner.deleteMany(keys, signal);
    for (const key of keys) this.injected.push({ key, code: 'CRASH', when, call, crash: true });
    throw new Error(crash.message ?? `injected crash: the storage worker died during deleteMany call ${call} (${keys.length} keys, ${when} the store acted)`);
  }

  /** Resolves after `ms` on the clock, or as soon as the signal aborts; never rejects. */
  #wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const onAbort = (): void => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.#clock.sleep(ms, signal).then(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  stat(key: string): Promise<ObjectInfo | null> {
    return this.#inner.stat(key);
  }

  list(prefix?: string): AsyncIterable<ObjectInfo> {
    return this.#inner.list(prefix);
  }

  describeState(): Promise<Record<string, unknown>> {
    return this.#inner.describeState ? this.#inner.describeState() : Promise.resolve({});
  }

  /** Closes the wrapped storage too: the wrapper owns it. */
  close(): Promise<void> {
    return this.#inner.close();
  }
}
