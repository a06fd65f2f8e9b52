import { describeError, runErasureRequest, type Engine, type Logger, type RunSummary } from '@lethe/engine';

export interface BackgroundErasures {
  /**
   * Starts `runErasureRequest` for the reference in the background, unless one started here is
   * still going (a second submission of the same ticket joins it). Never throws: a run that fails
   * is logged and the request stays open for the next full run (docs/rights.md#how-a-request-runs).
   */
  start(reference: string, by: string): void;
  /** Resolves when every request run started here has ended. */
  idle(): Promise<void>;
  /** Asks the runs in flight to stop at their next batch (they end `interrupted`, the request stays open), then waits for them. */
  close(): Promise<void>;
}

/**
 * Erasure requests submitted over HTTP in mode `immediate` (docs/rights.md#over-http): each runs
 * in a run of its own, in this process, after the answer. A request run is a whole engine run
 * (preflight, the run lock, every batch under its row locks): it may take longer than a client
 * waits, and waits for the run lock while another run holds it, so the route answers at once with
 * the stored request and the caller polls its location.
 */
export function createBackgroundErasures(engine: Engine, logger: Logger, onFinished?: (summary: RunSummary) => void): BackgroundErasures {
  const inFlight = new Map<string, Promise<void>>();
  const stop = new AbortController();
  return {
    start: (reference, by) => {
      if (inFlight.has(reference) || stop.signal.aborted) return;
      logger.info({ reference, by }, 'erasure request: run started');
      const run = runErasureRequest(engine, reference, { signal: stop.signal })
        .then((r) => {
          const fields = {
            reference,
            state: r.request.state,
            runId: r.run?.run_id ?? null,
            status: r.run?.status ?? null,
            rowsErased: r.record.rows_erased,
            error: r.run?.error ?? null,
          };
          // A run that did not complete leaves the request open: the next full run takes it (runbook REQ-002).
          if (r.run && r.run.status !== 'completed') logger.warn(fields, 'erasure request: its run did not complete; the request stays open for the next run');
          else logger.info(fields, 'erasure request: run ended');
          if (r.run) onFinished?.(r.run);
        })
        .catch((error: unknown) => {
          logger.warn({ reference, error: describeError(error) }, 'erasure request: the run failed; the request stays open for the next run (runbook REQ-002)');
        })
        .finally(() => inFlight.delete(reference));
      inFlight.set(reference, run);
    },
    idle: async () => {
      await Promise.allSettled([...inFlight.values()]);
    },
    close: async () => {
      stop.abort();
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
