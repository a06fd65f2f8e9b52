import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import {
  CONFIG_FILE_SETTING,
  ConfigError,
  createWebhookNotifier,
  SETTINGS,
  type ConfigSettingName,
  type DerivedOptions,
  type EngineOptions,
  type Logger,
  type SettingSpec,
} from '@lethe/engine';
import { VERSION } from './version.js';

/**
 * Configuration for every command, resolved in one place: flags > environment > config file >
 * defaults. Environment variables are read here and nowhere in the libraries.
 */
export interface LetheConfig {
  readonly databaseUrl?: string;
  readonly storage?: string;
  readonly jobs?: { table?: string; id?: string; fileKey?: string; purpose?: string; createdAt?: string };
  readonly policies?: Record<string, string | { readonly retention: string; readonly retainedUnder?: string }>;
  readonly batchSize?: number;
  readonly deletesPerSecond?: number;
  /** S3: deletes per second per key prefix (default 3500; docs/storage-s3.md#throttling). */
  readonly deletesPerSecondPerPrefix?: number;
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
  /** Blast-radius guard (docs/safety.md#blast-radius-guard): cap, K x median, floor; failure breaker window. */
  readonly maxDeletesPerRun?: number;
  readonly blastRadiusFactor?: number;
  readonly blastRadiusFloor?: number;
  readonly breakerWindow?: number;
  /** Undo window (docs/safety.md#undo-window-default-off): "off" (default), "on" (7 days) or a duration like "7d". */
  readonly undoWindow?: string;
  /** Per-purpose undo windows (config file only): {"Medical": "30d", "System Testing": "off"}. */
  readonly undoWindows?: Record<string, string>;
  /** Ledger and summaries store file keys as HMAC-SHA256 with this secret (docs/safety.md#proof-without-personal-data-hmac-keys). */
  readonly ledgerKeyHmacSecret?: string;
  /** Path of an Ed25519 private key (PEM): each run's ledger chain head is signed (docs/safety.md#tamper-evident-ledger). */
  readonly ledgerSigningKey?: string;
  /** The erasure journal (docs/safety.md#erasures-survive-a-backup-restore): storage (default), off, dir:/abs/path, s3://bucket/prefix. */
  readonly journal?: string;
  /** A daemon whose heartbeat is older than this is not running (default 120 s). */
  readonly staleAfterMs?: number;
  /** Notifications (runbook "Notifications (webhook)"): JSON POSTs with a Slack-compatible `text` on pauses, resumes and runs that failed. */
  readonly webhookUrl?: string;
  /** Extra headers for the webhook (config file only), e.g. {"X-Team": "platform"}. */
  readonly webhookHeaders?: Record<string, string>;
  /** Sent as `Authorization: Bearer <token>` to the webhook. */
  readonly webhookToken?: string;
  /** Bound on delivering one notification, retries included (default 30 s). */
  readonly webhookTimeoutMs?: number;
  /** Erasure requests (docs/rights.md#configuration): the data-principal column of jobs, e.g. user_id. */
  readonly erasurePrincipalColumn?: string;
  /** Days from receipt to a request's deadline (default 30, at most 90). */
  readonly erasureDeadlineDays?: number;
  /** `immediate` (default): `lethe erase` runs the request at once; `next-run`: the next run takes it. */
  readonly erasureMode?: string;
  /** Processors to notify of completed requests (config file only): {"payroll-vendor": "https://..."}. */
  readonly erasureProcessors?: Record<string, string>;
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

/** LetheConfig names exactly the engine's configuration settings (SETTINGS without `config: false`). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameKeys: Same<keyof LetheConfig, ConfigSettingName> = true;
void sameKeys;

function fieldOf(name: string, spec: SettingSpec): Field {
  if (spec.kind === 'share') throw new TypeError(`${name}: a share is not a CLI setting`);
  return {
    kind: spec.kind,
    ...(spec.env === undefined ? {} : { env: spec.env }),
    ...(spec.min === undefined ? {} : { min: spec.min }),
    ...(spec.max === undefined ? {} : { max: spec.max }),
    ...(spec.values === undefined ? {} : { values: spec.values }),
  };
}

/**
 * Every setting: its type, its environment variable, its bounds, derived from the engine's one
 * table (SETTINGS in engine/src/option-spec.ts). Add new settings there.
 */
export const FIELDS: Readonly<Record<keyof LetheConfig, Field>> = Object.freeze(
  Object.fromEntries(
    Object.entries(SETTINGS as Readonly<Record<string, SettingSpec>>)
      .filter(([, spec]) => spec.config !== false)
      .map(([name, spec]) => [name, fieldOf(name, spec)]),
  ) as Record<keyof LetheConfig, Field>,
);

/** The settings the engine resolves (passed on to createEngine as they are). */
const ENGINE_SETTINGS = (Object.keys(FIELDS) as (keyof LetheConfig)[]).filter(
  (k) => (SETTINGS as Readonly<Record<string, SettingSpec>>)[k]!.owner === 'engine',
);

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
      if (typeof value !== 'string' || !field.values!.includes(value))
        throw new ConfigError(`${where}: expected one of ${field.values!.join(', ')}, got ${JSON.stringify(value)}`);
      return value;
    case 'json':
      // Nested declarations: validated field by field by the engine's resolveOptions, which names each one.
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new ConfigError(`${where}: expected an object, got ${JSON.stringify(value)}`);
      return value;
    case 'object':
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new ConfigError(`${where}: expected an object, got ${JSON.stringify(value)}`);
      // A policy may be an object with its statute (docs/rights.md#retained-under): the engine validates it.
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string' && !(name === 'policies' && v !== null && typeof v === 'object'))
          throw new ConfigError(`${name}.${k} (${source}): expected a string, got ${JSON.stringify(v)}`);
      }
      if (name === 'jobs') {
        const allowed = ['table', 'id', 'fileKey', 'purpose', 'createdAt'];
        for (const k of Object.keys(value))
          if (!allowed.includes(k)) throw new ConfigError(`jobs.${k} (${source}): unknown field; expected one of ${allowed.join(', ')}`);
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
  const file = flags.config ?? env[CONFIG_FILE_SETTING.env];
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
  for (const k of ENGINE_SETTINGS) {
    if (config[k] !== undefined) o[k] = config[k];
  }
  const erasure = {
    ...(config.erasurePrincipalColumn === undefined ? {} : { principalColumn: config.erasurePrincipalColumn }),
    ...(config.erasureDeadlineDays === undefined ? {} : { deadlineDays: config.erasureDeadlineDays }),
    ...(config.erasureMode === undefined ? {} : { mode: config.erasureMode }),
    ...(config.erasureProcessors === undefined ? {} : { processors: Object.entries(config.erasureProcessors).map(([name, url]) => ({ name, url })) }),
  };
  if (Object.keys(erasure).length > 0) o.erasure = erasure;
  return o as EngineOptions;
}

/**
 * The webhook notifier (runbook "Notifications (webhook)") when `webhookUrl` is set. Built here, the one place that reads the
 * configuration; the engine only sees the port. `lethe` commands flush it (bounded) as they exit.
 */
function webhookOptions(config: LetheConfig, logger: Logger | undefined): Partial<EngineOptions> {
  if (config.webhookUrl === undefined) return {};
  const deadlineMs = config.webhookTimeoutMs ?? SETTINGS.webhookTimeoutMs.default;
  const notifier = createWebhookNotifier({
    url: config.webhookUrl,
    headers: { ...config.webhookHeaders, ...(config.webhookToken === undefined ? {} : { authorization: `Bearer ${config.webhookToken}` }) },
    host: hostname(),
    version: VERSION,
    deadlineMs,
    attemptTimeoutMs: Math.min(5_000, deadlineMs),
    ...(logger ? { logger } : {}),
  });
  return { notifier, notifyFlushMs: Math.min(deadlineMs, 5_000) };
}
