import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Engine, Logger, RunSummary } from '@lethe/engine';
import type { HealthOptions } from '@lethe/engine/operations';
import { ConfigError } from '@lethe/engine';
import { DEFAULT_HEALTH_OPTIONS } from '@lethe/engine/operations';

/** The database pool, typed through the engine so this package needs no direct `pg` import. */
export type Pool = Engine['pool'];

export interface HttpServiceOptions {
  readonly pool: Pool;
  readonly logger: Logger;
  readonly version: string;
  /** Undefined => every /api/admin/* route answers 404: the admin API is never open. */
  readonly adminToken?: string;
  /**
   * Read admin routes (run history, a run, ledger lookup, report) disclose per-file and per-run
   * records (file keys, purposes, dates), so they need the token too (default true). `false`
   * opens them to anyone who can reach the port: only behind a network that already restricts it.
   */
  readonly protectReads?: boolean;
  readonly health?: Partial<HealthOptions>;
  /** Scheduler heartbeat staleness (default 120000). */
  readonly staleAfterMs?: number;
  /** Starts a run in the background; resolves with its run id as soon as it has one. Absent => trigger route 503s. */
  readonly triggerRun?: (opts: { dryRun: boolean; by: string; allowLarge?: boolean }) => Promise<string>;
  /** The engine, for admin routes that need storage/policies (lookup, report). */
  readonly engine?: Engine;
  /** In-process readiness (the daemon says whether its scheduler is started). Default: ready when the DB answers. */
  readonly ready?: () => boolean;
  /** How long DB-derived metric gauges are cached (default 10 s; the backlog 60 s). */
  readonly metricsCacheMs?: number;
  readonly backlogCacheMs?: number;
  /** Request bodies larger than this answer 413 (default 16 KiB). */
  readonly bodyLimitBytes?: number;
  /** DESIGN "Compliance grace": a file is late after expiry + one schedule period + this (default 24 h). */
  readonly complianceGraceMs?: number;
  /** Injected clock for health judgements (default Date.now). */
  readonly now?: () => number;
}

export interface ResolvedHttpOptions {
  readonly pool: Pool;
  readonly logger: Logger;
  readonly version: string;
  readonly adminToken: string | null;
  readonly protectReads: boolean;
  readonly health: HealthOptions;
  readonly staleAfterMs: number;
  readonly triggerRun: ((opts: { dryRun: boolean; by: string; allowLarge?: boolean }) => Promise<string>) | null;
  readonly engine: Engine | null;
  readonly ready: () => boolean;
  readonly metricsCacheMs: number;
  readonly backlogCacheMs: number;
  readonly bodyLimitBytes: number;
  readonly complianceGraceMs: number;
  readonly now: () => number;
}

export interface HttpService {
  listen(port: number, host?: string): Promise<{ port: number }>;
  /** Stops accepting, lets requests in flight finish, and stops erasure request runs started here at their next batch. */
  close(): Promise<void>;
  /** Resolves when every erasure request run this service started (mode immediate) has ended. */
  idle(): Promise<void>;
  /** The daemon reports every finished run here: the next scrape reads the database figures again (the counters come from lethe_runs, whoever ran the run). */
  observeRun(summary: RunSummary): void;
  /** Answers one request without a socket (fastify's inject): for tests that only need request and answer. */
  inject(request: InjectOptions): Promise<LightMyRequestResponse>;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${name}: expected a non-negative number, got ${JSON.stringify(value)}`);
  return value;
}

export function resolveHttpOptions(o: HttpServiceOptions): ResolvedHttpOptions {
  if (!o.pool) throw new ConfigError('pool: expected the database pool (the HTTP service needs one)');
  // An empty token would make "Bearer " a valid credential: treat it as "not configured".
  const token = o.adminToken === undefined || o.adminToken.trim() === '' ? null : o.adminToken;
  return Object.freeze({
    pool: o.pool,
    logger: o.logger,
    version: o.version,
    adminToken: token,
    protectReads: o.protectReads ?? true,
    health: Object.freeze({ ...DEFAULT_HEALTH_OPTIONS, ...stripUndefined(o.health ?? {}) }),
    staleAfterMs: nonNegative('staleAfterMs', o.staleAfterMs, 120_000),
    triggerRun: o.triggerRun ?? null,
    engine: o.engine ?? null,
    ready: o.ready ?? (() => true),
    metricsCacheMs: nonNegative('metricsCacheMs', o.metricsCacheMs, 10_000),
    backlogCacheMs: nonNegative('backlogCacheMs', o.backlogCacheMs, 60_000),
    bodyLimitBytes: nonNegative('bodyLimitBytes', o.bodyLimitBytes, 16 * 1024),
    complianceGraceMs: nonNegative('complianceGraceMs', o.complianceGraceMs, 86_400_000),
    now: o.now ?? Date.now,
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
