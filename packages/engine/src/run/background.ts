import type { RunSummary } from './summary.js';

export interface BackgroundStart {
  /** Resolves with the run's id as soon as it has one; rejects when the run failed before it had one (a run in progress elsewhere, bad options). */
  readonly runId: Promise<string>;
  /** Settles when the run has ended: its summary, or what it failed with. Never rejects. */
  readonly ended: Promise<{ readonly summary: RunSummary } | { readonly error: unknown; readonly started: boolean }>;
}

/**
 * Starts a run without waiting for it to end: the one background starter of the HTTP trigger
 * (`lethe serve`) and the daemon. `run` receives the `onStart` to pass to `engine.run`. The id is
 * answered once the engine has recorded the run (its runs row exists, so a caller can poll it),
 * or from the summary when the run ended before it reported a start; an error before the start is
 * the caller's to answer (409 for a run in progress), and one after it is only reported through
 * `ended` (the engine records the run's end itself; if even that failed, the next run records
 * this one as interrupted).
 */
export function startInBackground(run: (onStart: (runId: string) => void) => Promise<RunSummary>): BackgroundStart {
  let started = false;
  let answer!: { resolve: (runId: string) => void; reject: (error: unknown) => void };
  const runId = new Promise<string>((resolve, reject) => (answer = { resolve, reject }));
  // A caller that only watches `ended` must not see an unhandled rejection of `runId`.
  runId.catch(() => {});
  let task: Promise<RunSummary>;
  try {
    task = run((id) => {
      started = true;
      answer.resolve(id);
    });
  } catch (error) {
    task = Promise.reject(error);
  }
  const ended = task.then(
    (summary) => {
      if (!started) answer.resolve(summary.run_id);
      return { summary };
    },
    (error: unknown) => {
      if (!started) answer.reject(error);
      return { error, started };
    },
  );
  return { runId, ended };
}
