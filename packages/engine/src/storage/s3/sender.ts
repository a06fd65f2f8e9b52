import type { Clock } from '../../ports.js';
import { classifyS3Error, type S3ErrorInfo } from './errors.js';
import { AdaptiveSendRate, backoffMs, Semaphore, type Admission, type SendRateSnapshot } from './throttle.js';

export interface SenderOptions {
  readonly clock: Clock;
  /** DeleteObjects requests in flight (per adapter). */
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
}

/** A request that failed after every attempt: what the store said, and how many tries it took. */
export class S3RequestError extends Error {
  readonly info: S3ErrorInfo;
  readonly attempts: number;
  constructor(info: S3ErrorInfo, attempts: number, cause: unknown) {
    super(info.message, { cause });
    this.name = 'S3RequestError';
    this.info = info;
    this.attempts = attempts;
  }
}

export interface SenderStats extends SendRateSnapshot {
  readonly requests: number;
  readonly retries: number;
}

/**
 * Sends requests with retries (exponential backoff, full jitter) and, for deletes, the adaptive
 * send rate and a bound on requests in flight. Throttling seen on any request (a listing too)
 * cuts the delete rate: the store is telling this client to slow down.
 */
export class S3Sender {
  readonly #clock: Clock;
  readonly #maxAttempts: number;
  readonly #retryBaseMs: number;
  readonly #rate: AdaptiveSendRate;
  readonly #deletes: Semaphore;
  #requests = 0;
  #retries = 0;
  #lastAdmission: Admission = 0;

  constructor(options: SenderOptions) {
    this.#clock = options.clock;
    this.#maxAttempts = options.maxAttempts;
    this.#retryBaseMs = options.retryBaseMs;
    this.#rate = new AdaptiveSendRate({ clock: options.clock });
    this.#deletes = new Semaphore(options.concurrency);
  }

  /** A read (list, head, versioning): retried, not paced. */
  async read<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return (await this.#withRetries(send, null, signal)).value;
  }

  /** A delete carrying `keys` keys: bounded in flight, paced, retried. */
  async delete<T>(keys: number, send: () => Promise<T>, signal?: AbortSignal): Promise<{ value: T; admission: Admission }> {
    const release = await this.#deletes.acquire();
    try {
      return await this.#withRetries(send, keys, signal);
    } finally {
      release();
    }
  }

  /** Backoff before resending keys that a 200 response (from `admission`) reported as throttled or transient. */
  async pause(attempt: number, throttled: boolean, admission: Admission, signal?: AbortSignal): Promise<void> {
    if (throttled) this.#rate.throttled(admission);
    this.#retries += 1;
    await this.#clock.sleep(backoffMs(attempt, throttled ? this.#retryBaseMs * 5 : this.#retryBaseMs), signal);
  }

  get maxAttempts(): number {
    return this.#maxAttempts;
  }

  stats(): SenderStats {
    return { ...this.#rate.snapshot(), requests: this.#requests, retries: this.#retries };
  }

  async #withRetries<T>(send: () => Promise<T>, keys: number | null, signal?: AbortSignal): Promise<{ value: T; admission: Admission }> {
    for (let attempt = 0; ; attempt += 1) {
      // Reads are not paced, but a throttled read still tells the delete pace to back off.
      const admission = keys === null ? this.#lastAdmission : await this.#rate.admit(keys, signal);
      if (keys !== null) this.#lastAdmission = admission;
      this.#requests += 1;
      try {
        const value = await send();
        if (keys !== null) this.#rate.succeeded(admission);
        return { value, admission };
      } catch (error) {
        const info = classifyS3Error(error);
        if (info.throttled) this.#rate.throttled(admission);
        if (!info.retryable || attempt + 1 >= this.#maxAttempts || signal?.aborted) throw new S3RequestError(info, attempt + 1, error);
        this.#retries += 1;
        await this.#clock.sleep(backoffMs(attempt, info.throttled ? this.#retryBaseMs * 5 : this.#retryBaseMs), signal);
      }
    }
  }
}
