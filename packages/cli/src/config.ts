import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { ConfigError, createWebhookNotifier, type DerivedOptions, type EngineOptions, type Logger } from '@lethe/engine';
import { VERSION } from './version.js';

/**
 * Configuration for every command, resolved in one place: flags > environment > config file >
 * defaults. Environment variables are read here and nowhere in the libraries.
 */
export interface LetheConfig {
  readonly databaseUrl?: string;
  readonly storage?: string;
  readonly jobs?: { table?: string; id?: string; fileKey?: string; purpose?: string; createdAt?: string };
  readonly policies?: Record<string, string>;
  readonly batchSize?: number;
  readonly deletesPerSecond?: number;
  readonly threads?: number;
  readonly maxBatchesInFlight?: number;
  readonly lockWaitMs?: number;
  readonly progressIntervalMs?: number;
  readonly logLevel?: string;
  readonly schedule?: string;
  readonly timezone?: string;
  readonly httpPort?: number;
  readonly httpHost?: string;
  readonly adminToken?: string;
  /** Admin read routes (history, ledger, report) need the token too. */
  readonly protectReads?: 'true' | 'false';
  readonly graceMs?: number;
  readonly failureThreshold?: number;
  readonly shutdownTimeoutMs?: number;
  readonly overlap?: 'wait' | 'refuse';
  readonly heartbeatMs?: number;
  readonly groupStaleMs?: number;
  /** Blast-radius guard (issue 7): cap, K x median, floor; failure breaker window. */
  readonly maxDeletesPerRun?: number;
  readonly blastRadiusFactor?: number;
  readonly blastRadiusFloor?: number;
  readonly breakerWindow?: number;
  /** Undo window (issue 7): "off" (default), "on" (7 days) or a duration like "7d". */
  readonly undoWindow?: string;
  /** Per-purpose undo windows (config file only): {"Medical": "30d", "System Testing": "off"}. */
  readonly undoWindows?: Record<string, string>;
  /** Ledger and summaries store file keys as HMAC-SHA256 with this secret (issue 7). */
  readonly ledgerKeyHmacSecret?: string;
  /** A daemon whose heartbeat is older than this is not running (issue 9; default 120 s). */
  readonly staleAfterMs?: number;
  /** Notifications (issue 9): JSON POSTs with a Slack-compatible `text` on pauses, resumes and runs that failed. */
  readonly webhookUrl?: string;
  /** Extra headers for the webhook (config file only), e.g. {"X-Team": "platform"}. */
  readonly webhookHeaders?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>` to the webhook. */
  readonly webhookToken?: string;
  /** Bound on delivering one notification, retries included (default 30 s). */
  readonly webhookTimeoutMs?: number;
  /** Derived data (config file only): child tables, derived object templates, kept areas; the engine validates it (docs/rights.md#derived-data). */
  readonly derived?: DerivedOptions;
}

type Kind = 'string' | 'int' | 'object' | 'enum' | 'json';
interface Field {
  readonly kind: Kind;
  readonly env?: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
}

/** Every setting: its type, its environment variable, its bounds. Add new settings here. */
export const FIELDS: Readonly<Record<keyof LetheConfig, Field>> = {
  databaseUrl: { kind: 'string', env: 'DATABASE_URL' },
  storage: { kind: 'string', env: 'LETHE_STORAGE' },
  jobs: { kind: 'object' },
  policies: { kind: 'object' },
  batchSize: { kind: 'int', env: 'LETHE_BATCH_SIZE', min: 1, max: 10_000 },
  deletesPerSecond: { kind: 'int', env: 'LETHE_DELETES_PER_SECOND', min: 0, max: 1_000_000 },
  threads: { kind: 'int', env: 'LETHE_THREADS', min: 1, max: 32 },
  maxBatchesInFlight: { kind: 'int', env: 'LETHE_MAX_BATCHES_IN_FLIGHT', min: 1, max: 64 },
  lockWaitMs: { kind: 'int', env: 'LETHE_LOCK_WAIT_MS', min: 0, max: 86_400_000 },
  progressIntervalMs: { kind: 'int', env: 'LETHE_PROGRESS_INTERVAL_MS', min: 10, max: 600_000 },
  logLevel: { kind: 'enum', env: 'LETHE_LOG_LEVEL', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  schedule: { kind: 'string', env: 'LETHE_SCHEDULE' },
  timezone: { kind: 'string', env: 'LETHE_TIMEZONE' },
  httpPort: { kind: 'int', env: 'LETHE_HTTP_PORT', min: 0, max: 65_535 },
  httpHost: { kind: 'string', env: 'LETHE_HTTP_HOST' },
  adminToken: { kind: 'string', env: 'LETHE_ADMIN_TOKEN' },
  protectReads: { kind: 'enum', env: 'LETHE_ADMIN_PROTECT_READS', values: ['true', 'false'] },
  graceMs: { kind: 'int', env: 'LETHE_GRACE_MS', min: 0, max: 30 * 86_400_000 },
  failureThreshold: { kind: 'int', env: 'LETHE_FAILURE_THRESHOLD', min: 0, max: 1_000_000 },
  shutdownTimeoutMs: { kind: 'int', env: 'LETHE_SHUTDOWN_TIMEOUT_MS', min: 0, max: 3_600_000 },
  overlap: { kind: 'enum', env: 'LETHE_OVERLAP', values: ['wait', 'refuse'] },
  heartbeatMs: { kind: 'int', env: 'LETHE_HEARTBEAT_MS', min: 100, max: 600_000 },
  groupStaleMs: { kind: 'int', env: 'LETHE_GROUP_STALE_MS', min: 500, max: 86_400_000 },
  maxDeletesPerRun: { kind: 'int', env: 'LETHE_MAX_DELETES_PER_RUN', min: 0, max: 1_000_000_000 },
  blastRadiusFactor: { kind: 'int', env: 'LETHE_BLAST_RADIUS_FACTOR', min: 1, max: 1000 },
  blastRadiusFloor: { kind: 'int', env: 'LETHE_BLAST_RADIUS_FLOOR', min: 0, max: 1_000_000_000 },
  breakerWindow: { kind: 'int', env: 'LETHE_BREAKER_WINDOW', min: 10, max: 100_000 },
  undoWindow: { kind: 'string', env: 'LETHE_UNDO_WINDOW' },
  undoWindows: { kind: 'object' },
  ledgerKeyHmacSecret: { kind: 'string', env: 'LETHE_LEDGER_KEY_SECRET' },
  staleAfterMs: { kind: 'int', env: 'LETHE_STALE_AFTER_MS', min: 1_000, max: 86_400_000 },
  webhookUrl: { kind: 'string', env: 'LETHE_WEBHOOK_URL' },
  webhookHeaders: { kind: 'object' },
  webhookToken: { kind: 'string', env: 'LETHE_WEBHOOK_TOKEN' },
  webhookTimeoutMs: { kind: 'int', env: 'LETHE_WEBHOOK_TIMEOUT_MS', min: 100, max: 600_000 },
  derived: { kind: 'json' },
};

function coerce(name: string, field: Field, value: unknown, source: string): unknown {
  const where = `${name} (${source})`;
  switch (field.kind) {
    case 'string':
      if (typeof value !== 'string' || value === '') throw new ConfigError(`${where}: expected a non-empty string, got ${JSON.stringify(value)}`);
      return value;
    case 'int': {
      const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < (field.min ?? -Infinity) || n > (field.max ?? Infinity)) {
        throw new ConfigError(`${where}: expected an integer from ${field.min} to ${field.max}, got ${JSON.stringify(value)}`);
      }
      return n;
    }
    case 'enum':
      if (typeof value !== 'string' || !field.values!.includes(value)) throw new ConfigError(`${where}: expected one of ${field.values!.join(', ')}, got ${JSON.stringify(value)}`);
      return value;
    case 'json':
      // Nested declarations: validated field by field by the engine's resolveOptions, which names each one.
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${where}: expected an object, got ${JSON.stringify(value)}`);
      return value;
    case 'object':
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${where}: expected an object, got ${JSON.stringify(value)}`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new ConfigError(`${name}.${k} (${source}): expected a string, got ${JSON.stringify(v)}`);
      }
      if (name === 'jobs') {
        const allowed = ['table', 'id', 'fileKey', 'purpose', 'createdAt'];
        for (const k of Object.keys(value)) if (!allowed.includes(k)) throw new ConfigError(`jobs.${k} (${source}): unknown field; expected one of ${allowed.join(', ')}`);
      }
      return value;
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`config file ${path}: cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`config file ${path}: expected a JSON object`);
  return parsed as Record<string, unknown>;
}

export interface ResolveInput {
  readonly flags: Partial<Record<keyof LetheConfig, unknown>> & { config?: string };
  readonly env: NodeJS.ProcessEnv;
}

/** Merges and validates every source; every bad field is named with where it came from. */
export function resolveConfig({ flags, env }: ResolveInput): LetheConfig {
  const out: Record<string, unknown> = {};
  const file = flags.config ?? env.LETHE_CONFIG;
  if (file) {
    const path = resolve(file);
    const data = readConfigFile(path);
    for (const [k, v] of Object.entries(data)) {
      const field = FIELDS[k as keyof LetheConfig];
      if (!field) throw new ConfigError(`${k} (config file ${path}): unknown setting; expected one of ${Object.keys(FIELDS).join(', ')}`);
      out[k] = coerce(k, field, v, `config file ${path}`);
    }
  }
  for (const [k, field] of Object.entries(FIELDS)) {
    const v = field.env ? env[field.env] : undefined;
    if (v !== undefined && v !== '') out[k] = coerce(k, field, v, `env ${field.env}`);
  }
  for (const [k, v] of Object.entries(flags)) {
    if (k === 'config' || v === undefined) continue;
    const field = FIELDS[k as keyof LetheConfig];
    if (field) out[k] = coerce(k, field, v, 'flag');
  }
  return out as LetheConfig;
}

/** The engine's options from a resolved config (the engine validates storage, policies, jobs). */
export function engineOptions(config: LetheConfig, extra: Partial<EngineOptions> = {}): EngineOptions {
  const o: Record<string, unknown> = { version: VERSION, host: hostname(), ...webhookOptions(config, extra.logger), ...extra };
  for (const k of ['databaseUrl', 'storage', 'jobs', 'policies', 'batchSize', 'deletesPerSecond', 'threads', 'maxBatchesInFlight', 'lockWaitMs', 'progressIntervalMs', 'heartbeatMs', 'groupStaleMs', 'maxDeletesPerRun', 'blastRadiusFactor', 'blastRadiusFloor', 'breakerWindow', 'undoWindow', 'undoWindows', 'ledgerKeyHmacSecret', 'derived'] as const) {
    if (config[k] !== undefined) o[k] = config[k];
  }
  return o as EngineOptions;
}

/**
 * Issue 9: the webhook notifier when `webhookUrl` is set. Built here, the one place that reads the
 * configuration; the engine only sees the port. `lethe` commands flush it (bounded) as they exit.
 */
function webhookOptions(config: LetheConfig, logger: Logger | undefined): Partial<EngineOptions> {
  if (config.webhookUrl === undefined) return {};
  const deadlineMs = config.webhookTimeoutMs ?? 30_000;
  const notifier = createWebhookNotifier({
    url: config.webhookUrl,
    headers: { ...config.webhookHeaders, ...(config.webhookToken === undefined ? {} : { authorization: `Bearer ${config.webhookToken}` }) },
    host: hostname(), version: VERSION, deadlineMs, attemptTimeoutMs: Math.min(5_000, deadlineMs),
    ...(logger ? { logger } : {}),
  });
  return { notifier, notifyFlushMs: Math.min(deadlineMs, 5_000) };
}
