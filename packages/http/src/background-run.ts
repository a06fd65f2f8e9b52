import { startInBackground, type Engine, type Logger, type RunSummary } from '@lethe/engine';

export interface BackgroundRunsOptions {
  readonly logger: Logger;
  /** Aborting drains the runs in flight; they end `interrupted`. */
  readonly signal?: AbortSignal;
  /** Every finished run (e.g. `HttpService.observeRun`). */
  readonly onFinished?: (summary: RunSummary) => void;
}

export interface BackgroundRuns {
  /** For `HttpServiceOptions.triggerRun`: resolves with the run id once the run has one. */
  triggerRun(opts: { dryRun: boolean; by: string; allowLarge?: boolean }): Promise<string>;
  /** Resolves when every run started here has ended. */
  idle(): Promise<void>;
}

/**
 * Runs started over HTTP run in this process (`lethe serve`). The lock is not waited for: a run
 * in progress elsewhere is a 409 the caller sees at once, not a request that hangs.
 */
export function createBackgroundRuns(engine: Engine, o: BackgroundRunsOptions): BackgroundRuns {
  const inFlight = new Set<Promise<void>>();
  return {
    triggerRun: ({ dryRun, by, allowLarge }) => {
      const { runId, ended } = startInBackground((onStart) =>
        engine.run({
          dryRun,
          ...(allowLarge ? { allowLarge } : {}),
          trigger: 'api',
          lockWaitMs: 0,
          ...(o.signal ? { signal: o.signal } : {}),
          onStart: (id) => {
            o.logger.info({ runId: id, dryRun, by }, 'run started');
            onStart(id);
          },
        }),
      );
      const done = ended
        .then((end) => {
          if ('summary' in end) {
            const { summary } = end;
            o.logger.info(
              {
                runId: summary.run_id,
                status: summary.status,
                deleted: summary.deleted_count,
                failed: summary.failed_count,
                durationSeconds: summary.duration_seconds,
              },
              'run ended',
            );
            o.onFinished?.(summary);
          } else if (end.started) {
            o.logger.error({ err: end.error }, 'run failed after it started');
          }
        })
        .finally(() => inFlight.delete(done));
      inFlight.add(done);
      return runId;
    },
    idle: async () => {
      await Promise.allSettled([...inFlight]);
    },
  };
}
