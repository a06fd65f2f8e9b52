import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { boundsOf, ConfigError, defaultOf, SETTINGS, silentLogger, systemClock, type Engine, type SettingName } from '@lethe/engine';
import { type HealthOptions } from '@lethe/engine/operations';
import type { Clock, HttpServiceFactory, Logger } from './ports.js';
import { CronSchedule } from './schedule.js';

export type OverlapPolicy = 'wait' | 'refuse';

export interface DaemonHttpOptions {
  /** 0 picks a free port (tests); the bound port is logged and returned by `start()`. */
  readonly port: number;
  readonly host?: string;
  readonly adminToken?: string;
  readonly protectReads?: boolean;
  readonly health?: Partial<HealthOptions>;
  /** Builds the service (the CLI passes @lethe/http's createHttpService). */
  readonly createService: HttpServiceFactory;
}

/** Everything but the engine is optional; `resolveDaemonOptions` validates, fills defaults, freezes. */
export interface DaemonOptions {
  /** The engine runs are made with. The daemon closes it when it stops. */
  readonly engine: Engine;
  /** Cron expression, 5 fields or 6 with seconds first (default `0 2 * * *`, runbook "Schedule"). */
  readonly schedule?: string;
  /** IANA time zone the expression is read in (default UTC; the operators think in Asia/Kolkata). */
  readonly timezone?: string;
  /** When another run holds the run lock at a fire: wait for it (bounded) or skip the slot. */
  readonly overlap?: OverlapPolicy;
  /** The bound on `wait` (default 15 min). */
  readonly overlapWaitMs?: number;
  /** A run is missed when the fire after the last successful run is older than this (default 1 h). */
  readonly graceMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** Heartbeats older than this mean "not running" for health (default 120 s). */
  readonly staleAfterMs?: number;
  /** Stop, drain the run in flight, close everything within this (default 30 s). */
  readonly shutdownTimeoutMs?: number;
  /** In-process HTTP (health, admin API); absent: no HTTP server. */
  readonly http?: DaemonHttpOptions;
  /** Aborting it stops the daemon (the CLI passes its SIGINT/SIGTERM signal). */
  readonly signal?: AbortSignal;
  readonly instanceId?: string;
  readonly host?: string;
  readonly pid?: number;
  readonly version?: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface ResolvedDaemonOptions {
  readonly engine: Engine;
  readonly schedule: CronSchedule;
  readonly overlap: OverlapPolicy;
  /** What each scheduled run passes to the engine as `lockWaitMs` (0 under `refuse`). */
  readonly lockWaitMs: number;
  readonly graceMs: number;
  readonly heartbeatIntervalMs: number;
  readonly staleAfterMs: number;
  readonly shutdownTimeoutMs: number;
  readonly http: DaemonHttpOptions | null;
  readonly signal: AbortSignal | null;
  readonly instanceId: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

export const DEFAULT_SCHEDULE: string = SETTINGS.schedule.default;
export const DEFAULT_TIMEZONE: string = SETTINGS.timezone.default;

/** A duration option, bounded and defaulted by its row in the engine's SETTINGS table. */
function ms(name: SettingName, value: number | undefined): number {
  if (value === undefined) return defaultOf(name);
  const [min, max] = boundsOf(name);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}: expected an integer number of milliseconds from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function resolveHttp(http: DaemonHttpOptions | undefined): DaemonHttpOptions | null {
  if (http === undefined) return null;
  const [minPort, maxPort] = boundsOf('httpPort');
  if (!Number.isInteger(http.port) || http.port < minPort || http.port > maxPort) {
    throw new ConfigError(`httpPort: expected a TCP port from 0 to 65535, got ${JSON.stringify(http.port)}`);
  }
  if (http.host !== undefined && (typeof http.host !== 'string' || http.host.trim() === '')) {
    throw new ConfigError(`httpHost: expected a host name or address, got ${JSON.stringify(http.host)}`);
  }
  if (typeof http.createService !== 'function')
    throw new ConfigError('http.createService: expected the HTTP service factory (createHttpService from @lethe/http)');
  return Object.freeze({ ...http });
}

export function resolveDaemonOptions(o: DaemonOptions): ResolvedDaemonOptions {
  if (!o.engine || typeof o.engine.run !== 'function') throw new ConfigError('engine: the daemon needs an engine (createEngine) to run with');
  // Fail at start, not at 02:00: a daemon with no storage could never delete anything.
  if (o.engine.options.storage === null) {
    throw new ConfigError('LETHE_STORAGE: the daemon needs a storage URL, e.g. file:///var/lib/docs or s3://bucket/prefix');
  }
  if (o.overlap !== undefined && !(SETTINGS.overlap.values as readonly string[]).includes(o.overlap)) {
    throw new ConfigError(`overlap: expected "wait" or "refuse", got ${JSON.stringify(o.overlap)}`);
  }
  const schedule = CronSchedule.parse(o.schedule ?? DEFAULT_SCHEDULE, o.timezone ?? DEFAULT_TIMEZONE);
  const overlap: OverlapPolicy = o.overlap ?? SETTINGS.overlap.default;
  const overlapWaitMs = ms('overlapWaitMs', o.overlapWaitMs);
  const heartbeatIntervalMs = ms('heartbeatIntervalMs', o.heartbeatIntervalMs);
  const staleAfterMs = ms('staleAfterMs', o.staleAfterMs);
  if (staleAfterMs <= heartbeatIntervalMs) {
    throw new ConfigError(
      `staleAfterMs: must be longer than heartbeatIntervalMs (${heartbeatIntervalMs}), got ${staleAfterMs}; every live daemon would look dead`,
    );
  }
  const host = o.host ?? hostname();
  const pid = o.pid ?? process.pid;
  return Object.freeze({
    engine: o.engine,
    schedule,
    overlap,
    lockWaitMs: overlap === 'refuse' ? 0 : overlapWaitMs,
    graceMs: ms('graceMs', o.graceMs),
    heartbeatIntervalMs,
    staleAfterMs,
    shutdownTimeoutMs: ms('shutdownTimeoutMs', o.shutdownTimeoutMs),
    http: resolveHttp(o.http),
    signal: o.signal ?? null,
    instanceId: o.instanceId ?? `${host}-${pid}-${randomBytes(3).toString('hex')}`,
    host,
    pid,
    version: o.version ?? o.engine.options.version,
    clock: o.clock ?? systemClock,
    logger: o.logger ?? silentLogger,
  });
}
