import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent } from 'undici';
import { loadUndici } from './undici.js';
import { ConfigError, describeError } from '../errors.js';
import { silentLogger } from '../options.js';
import type { Logger } from '../ports.js';
import type { Notification, Notifier } from './notifier.js';

/**
 * The webhook adapter of the notifier port: one JSON POST per notification, with a Slack-compatible
 * `text` field (a Slack or Mattermost incoming webhook shows it as is) and the structured fields
 * beside it for anything that parses JSON (PagerDuty/Opsgenie transforms, a team's own bot).
 *
 * Delivery: retried on network errors, timeouts, 408, 429 and 5xx, with exponential backoff and
 * full jitter (honouring a Retry-After within the bound); every notification is bounded by
 * `deadlineMs` in all. Nothing here can block or fail a run: `notify` only starts a background task.
 */
export interface WebhookNotifierOptions {
  /** http(s) URL the JSON is POSTed to. */
  readonly url: string;
  /** Extra headers, e.g. `{"Authorization": "Bearer ..."}` for a receiver that needs a secret. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
  /** Who sends: added to every payload (a notification from the daemon on pod X, version Y). */
  readonly host?: string;
  readonly version?: string;
  /** Attempts per notification, first included (default 5). */
  readonly maxAttempts?: number;
  /** Backoff ceiling of the first retry; doubles each attempt (default 500 ms), capped by `maxDelayMs` (10 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** One attempt, connection to answer (default 5 s). */
  readonly attemptTimeoutMs?: number;
  /** All attempts of one notification (default 30 s). */
  readonly deadlineMs?: number;
  /** For tests of the jitter; Math.random otherwise. */
  readonly random?: () => number;
}

/** What the receiver gets. */
export interface WebhookPayload {
  readonly text: string;
  readonly event: Notification['kind'];
  readonly severity: Notification['severity'];
  readonly at: string;
  readonly source: 'lethe';
  readonly host: string | null;
  readonly version: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

interface Resolved {
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly attemptTimeoutMs: number;
  readonly deadlineMs: number;
}

function positive(name: string, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new ConfigError(`${name}: expected an integer from 1 to ${max}, got ${JSON.stringify(value)}`);
  return value;
}

export function resolveWebhookOptions(o: WebhookNotifierOptions): Resolved {
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    throw new ConfigError(`webhookUrl (LETHE_WEBHOOK_URL): expected an http(s) URL like https://hooks.slack.com/services/..., got ${JSON.stringify(o.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`webhookUrl (LETHE_WEBHOOK_URL): expected an http(s) URL, got scheme ${JSON.stringify(url.protocol)}`);
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': `lethe${o.version ? `/${o.version}` : ''}` };
  for (const [name, value] of Object.entries(o.headers ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new ConfigError(`webhookHeaders: ${JSON.stringify(name)} is not a valid header name`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) throw new ConfigError(`webhookHeaders.${name}: expected a one-line string value`);
    headers[name.toLowerCase()] = value;
  }
  return {
    url,
    headers,
    maxAttempts: positive('webhook maxAttempts', o.maxAttempts, 5, 20),
    baseDelayMs: positive('webhook baseDelayMs', o.baseDelayMs, 500, 60_000),
    maxDelayMs: positive('webhook maxDelayMs', o.maxDelayMs, 10_000, 600_000),
    attemptTimeoutMs: positive('webhook attemptTimeoutMs', o.attemptTimeoutMs, 5_000, 600_000),
    deadlineMs: positive('webhook deadlineMs', o.deadlineMs, 30_000, 3_600_000),
  };
}

/** 408, 429 and 5xx are worth another try; any other answer will not change by repeating it. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export function createWebhookNotifier(options: WebhookNotifierOptions): Notifier {
  return new WebhookNotifier(options);
}

class WebhookNotifier implements Notifier {
  readonly #o: Resolved;
  readonly #log: Logger;
  readonly #host: string | null;
  readonly #version: string | null;
  readonly #random: () => number;
  #undici: Promise<{ readonly agent: Agent; readonly request: typeof import('undici').request }> | undefined;
  readonly #inFlight = new Map<Promise<void>, AbortController>();

  constructor(options: WebhookNotifierOptions) {
    this.#o = resolveWebhookOptions(options);
    this.#log = (options.logger ?? silentLogger).child({ component: 'notify' });
    this.#host = options.host ?? null;
    this.#version = options.version ?? null;
    this.#random = options.random ?? Math.random;
  }

  /**
   * undici is loaded on the first notification, not with the engine: importing it costs ~80 ms of
   * every CLI start, and most runs notify nothing (docs/performance.md#peers). Idle keep-alive
   * sockets are unreferenced by undici, so they never hold a CLI process open.
   */
  #http(): Promise<{ readonly agent: Agent; readonly request: typeof import('undici').request }> {
    this.#undici ??= loadUndici().then(({ Agent: AgentClass, request }) => ({
      agent: new AgentClass({ keepAliveTimeout: 4_000, connect: { timeout: this.#o.attemptTimeoutMs } }),
      request,
    }));
    return this.#undici;
  }

  notify(n: Notification): void {
    const payload: WebhookPayload = {
      text: n.text,
      event: n.kind,
      severity: n.severity,
      at: n.at,
      source: 'lethe',
      host: this.#host,
      version: this.#version,
      details: n.details,
    };
    const abort = new AbortController();
    const task = this.#deliver(JSON.stringify(payload), n.kind, abort.signal).catch((error: unknown) => {
      this.#log.warn({ event: n.kind, error: describeError(error) }, 'notification not delivered');
    });
    const tracked = task.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.set(tracked, abort);
  }

  async flush(timeoutMs: number): Promise<void> {
    const pending = [...this.#inFlight.keys()];
    if (pending.length === 0) return;
    const timer = new AbortController();
    const done = await Promise.race([
      Promise.allSettled(pending).then(() => true),
      sleep(Math.max(0, timeoutMs), false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (done) return;
    const left = [...this.#inFlight.entries()].filter(([p]) => pending.includes(p));
    this.#log.warn({ abandoned: left.length, timeoutMs }, 'notifications still being delivered at exit were abandoned');
    for (const [, abort] of left) abort.abort();
    await Promise.allSettled(left.map(([p]) => p));
  }

  async #deliver(body: string, event: string, signal: AbortSignal): Promise<void> {
    const o = this.#o;
    const deadline = Date.now() + o.deadlineMs;
    let last = 'no attempt made';
    for (let attempt = 0; attempt < o.maxAttempts; attempt += 1) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) break;
      const outcome = await this.#attempt(body, Math.min(o.attemptTimeoutMs, remaining), signal);
      if (outcome.ok) {
        this.#log.debug({ event, attempts: attempt + 1 }, 'notification delivered');
        return;
      }
      last = outcome.error;
      if (!outcome.retryable) throw new Error(`${o.url.origin} answered ${last}; not retried`);
      const backoff = Math.floor(this.#random() * Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt));
      const wait = Math.max(backoff, outcome.retryAfterMs ?? 0);
      if (attempt + 1 >= o.maxAttempts || Date.now() + wait >= deadline) break;
      this.#log.debug({ event, attempt: attempt + 1, error: last, retryInMs: wait }, 'notification failed; retrying');
      await sleep(wait, undefined, { signal }).catch(() => {});
    }
    throw new Error(
      `${o.url.origin}: gave up (${signal.aborted ? 'abandoned at exit' : `bounded by ${o.maxAttempts} attempts and ${o.deadlineMs} ms`}); last error: ${last}`,
    );
  }

  async #attempt(
    body: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<{ ok: true } | { ok: false; retryable: boolean; error: string; retryAfterMs?: number }> {
    try {
      const { agent, request } = await this.#http();
      const res = await request(this.#o.url, {
        method: 'POST',
        headers: this.#o.headers,
        body,
        dispatcher: agent,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      await res.body.dump().catch(() => {});
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true };
      const retryAfter = Number(res.headers['retry-after']);
      return {
        ok: false,
        retryable: isRetryableStatus(res.statusCode),
        error: `HTTP ${res.statusCode}`,
        ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      };
    } catch (error) {
      return { ok: false, retryable: true, error: describeError(error) };
    }
  }
}
