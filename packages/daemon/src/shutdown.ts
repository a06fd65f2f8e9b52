import { settlesBefore } from './deadline.js';
import type { Clock, Logger } from './ports.js';

export interface ShutdownStep {
  readonly name: string;
  /** Starts the step; its promise settling means the step is done. */
  readonly begin: () => Promise<unknown>;
}

export interface ShutdownReport {
  /** Every step finished within the timeout. */
  readonly clean: boolean;
  readonly durationMs: number;
  /** Steps that had not finished when the timeout came. */
  readonly unfinished: readonly string[];
}

export interface ShutdownPlan {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly reason: string;
  readonly timeoutMs: number;
  readonly steps: readonly ShutdownStep[];
  readonly runsInFlight: () => number;
}

/**
 * Runs the steps in order, all within one timeout. A step still pending at the deadline is
 * abandoned (named in the report) and the remaining steps are still started, so HTTP and the pool
 * get their chance to close; the caller decides what an unclean stop means (the CLI exits 1 at
 * once). A run abandoned this way stays `running` in lethe_runs, and the next run records it as
 * `interrupted` with the counts its ledger rows prove.
 */
export async function shutDown(plan: ShutdownPlan): Promise<ShutdownReport> {
  const { clock, logger } = plan;
  const startedMs = clock.now();
  const deadline = startedMs + plan.timeoutMs;
  logger.info({ reason: plan.reason, runsInFlight: plan.runsInFlight(), shutdownTimeoutMs: plan.timeoutMs }, 'shutting down');
  const unfinished: string[] = [];
  for (const step of plan.steps) {
    let work: Promise<unknown>;
    try {
      work = step.begin().catch((error: unknown) => logger.error({ step: step.name, err: error }, 'shutdown step failed'));
    } catch (error) {
      logger.error({ step: step.name, err: error }, 'shutdown step failed');
      continue;
    }
    if (!(await settlesBefore(clock, deadline, work))) unfinished.push(step.name);
  }
  const report: ShutdownReport = { clean: unfinished.length === 0, durationMs: clock.now() - startedMs, unfinished };
  if (report.clean) logger.info({ durationMs: report.durationMs }, 'daemon stopped');
  else logger.error({ durationMs: report.durationMs, unfinished, shutdownTimeoutMs: plan.timeoutMs }, 'shutdown timed out; abandoning what had not finished');
  return report;
}
