import type { Engine, Logger as EngineLogger, RunSummary } from '@lethe/engine';
import type { HealthOptions } from '@lethe/engine/operations';

/**
 * The small interfaces the daemon consumes. Glossary:
 *
 * - fire / slot: one instant the cron expression names (e.g. 2025-12-01T02:00:00Z). Every
 *   replica computes the same slots; each slot is claimed once in `lethe_schedule_claims`, and only
 *   the replica whose claim succeeded runs it (DESIGN "Scheduled fires are claimed").
 * - period: the time between the fire before now and the fire after it (24 h for the runbook's
 *   daily schedule), reported in the heartbeat so health can judge "overdue".
 * - catch-up: on start, one run for the slots missed while no daemon was up, coalesced into one.
 * - heartbeat: the `lethe_schedulers` row each daemon refreshes every few seconds, with its next run
 *   (runbook OP-002) and whether it is running (OP-003, FM-001).
 * - overlap: what a scheduled run does when another run (a manual `lethe run`, say) holds the
 *   engine's run lock: `wait` (bounded) or `refuse` (skip the slot and log it).
 */
export type { Clock, Logger } from '@lethe/engine';

/** The part of packages/http's service the daemon drives. */
export interface HttpServicePort {
  listen(port: number, host?: string): Promise<{ port: number }>;
  close(): Promise<void>;
  observeRun(summary: RunSummary): void;
}

/** What the daemon gives the HTTP service it starts (the options of @lethe/http's createHttpService). */
export interface HttpServiceRequest {
  readonly pool: Engine['pool'];
  readonly logger: EngineLogger;
  readonly version: string;
  readonly engine: Engine;
  readonly staleAfterMs: number;
  readonly health: Partial<HealthOptions>;
  readonly adminToken?: string;
  readonly protectReads?: boolean;
  /** Runs started over HTTP take the same guarded path as scheduled ones (the daemon's run gate). */
  readonly triggerRun: (opts: { dryRun: boolean; by: string; allowLarge?: boolean }) => Promise<string>;
  /** The scheduler is started and not stopping (/readyz). */
  readonly ready: () => boolean;
}

/**
 * Builds the HTTP service: the composition root passes @lethe/http's `createHttpService`, so the
 * daemon does not depend on the HTTP package (and a test can pass any service of this shape).
 */
export type HttpServiceFactory = (options: HttpServiceRequest) => HttpServicePort;
