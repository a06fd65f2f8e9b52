import {
  attachRunToSlot,
  describeError,
  startInBackground,
  ErrorCodes,
  isLetheError,
  LetheError,
  type Engine,
  type RunSummary,
  type RunTrigger,
} from '@lethe/engine';
import type { Logger } from './ports.js';

export interface GuardedRunRequest {
  readonly trigger: RunTrigger;
  readonly dryRun?: boolean;
  /** Passed to the engine: how long to wait for another run's lock (0 refuses at once). */
  readonly lockWaitMs: number;
  /** The claimed slot (ISO) this run executes; the run id is attached to its claim row. */
  readonly slot?: string;
  /** Who asked, for runs started through the HTTP admin API. */
  readonly by?: string;
  /** An operator's explicit override of the blast-radius guard (admin API `allowLarge`). */
  readonly allowLarge?: boolean;
}

export type GuardedRunResult =
  | { readonly kind: 'finished'; readonly summary: RunSummary }
  | { readonly kind: 'skipped'; readonly reason: 'paused' | 'busy' | 'stopping'; readonly message: string }
  | { readonly kind: 'failed'; readonly error: unknown };

export interface RunGateDeps {
  readonly engine: Engine;
  readonly logger: Logger;
  /** Every finished run's summary (the HTTP service's metrics). */
  readonly onSummary: (summary: RunSummary) => void;
}

/**
 * The one path every daemon run takes, scheduled, catch-up or HTTP-triggered: the engine's run
 * lock keeps any two runs (a manual `lethe run` too) from overlapping, the shutdown signal reaches
 * every run in flight, and each run's lines carry its run id and end with its summary.
 */
export class RunGate {
  readonly #deps: RunGateDeps;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #stop = new AbortController();

  constructor(deps: RunGateDeps) {
    this.#deps = deps;
  }

  get running(): number {
    return this.#inFlight.size;
  }

  /** Runs to the end; never rejects: a run that could not start or failed is a result too. */
  async run(request: GuardedRunRequest): Promise<GuardedRunResult> {
    try {
      return { kind: 'finished', summary: await this.#execute(request) };
    } catch (error) {
      return this.#classify(request, error);
    }
  }

  /** Starts a run in the background; resolves with its id once it has one, rejects if it cannot start. */
  start(request: GuardedRunRequest): Promise<string> {
    const { runId, ended } = startInBackground((onStart) => this.#execute(request, onStart));
    // Once started, the engine records the run whatever happens; an error here means even that
    // failed, and the next run will record this one as interrupted.
    void ended.then((end) => {
      if ('error' in end) this.#classify(request, end.error);
    });
    return runId;
  }

  /** Shutdown: runs in flight stop taking batches, drain, and record themselves `interrupted`. */
  abort(): void {
    this.#stop.abort(new LetheError(ErrorCodes.ABORTED, 'the daemon is shutting down'));
  }

  /** Resolves when no run is in flight. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  async #execute(request: GuardedRunRequest, onStarted?: (runId: string) => void): Promise<RunSummary> {
    const { engine, logger } = this.#deps;
    if (this.#stop.signal.aborted) throw this.#stop.signal.reason;
    const context = { trigger: request.trigger, ...(request.slot ? { slot: request.slot } : {}), ...(request.by ? { by: request.by } : {}) };
    let runLog = logger;
    let attached: Promise<void> = Promise.resolve();
    const task = engine.run({
      trigger: request.trigger,
      dryRun: request.dryRun === true,
      ...(request.allowLarge ? { allowLarge: true } : {}),
      lockWaitMs: request.lockWaitMs,
      signal: this.#stop.signal,
      onStart: (runId) => {
        runLog = logger.child({ runId });
        runLog.info({ ...context, dryRun: request.dryRun === true }, 'daemon run started');
        if (request.slot) {
          attached = attachRunToSlot(engine.pool, request.slot, runId).catch((error: unknown) => {
            runLog.warn({ slot: request.slot, error: describeError(error) }, 'could not attach the run to its schedule claim');
          });
        }
        onStarted?.(runId);
      },
      onProgress: (p) => runLog.info({ processed: p.processed, deleted: p.deleted, failed: p.failed, elapsedMs: p.elapsedMs }, 'run progress'),
    });
    this.#inFlight.add(task);
    try {
      const summary = await task;
      await attached;
      runLog[summary.status === 'completed' && summary.failed_count === 0 ? 'info' : 'warn'](
        {
          ...context,
          status: summary.status,
          dry_run: summary.dry_run,
          deleted_count: summary.deleted_count,
          failed_count: summary.failed_count,
          refused_count: summary.refused_count,
          duration_seconds: summary.duration_seconds,
          ...(summary.error ? { error: summary.error } : {}),
        },
        'run summary',
      );
      this.#deps.onSummary(summary);
      return summary;
    } finally {
      this.#inFlight.delete(task);
    }
  }

  #classify(request: GuardedRunRequest, error: unknown): GuardedRunResult {
    const log = this.#deps.logger;
    const context = { trigger: request.trigger, ...(request.slot ? { slot: request.slot } : {}) };
    const message = describeError(error);
    if (this.#stop.signal.aborted && (!isLetheError(error) || error.code === ErrorCodes.ABORTED || error.code === ErrorCodes.RUN_IN_PROGRESS)) {
      log.info(context, 'run not started: the daemon is shutting down');
      return { kind: 'skipped', reason: 'stopping', message };
    }
    if (isLetheError(error) && error.code === ErrorCodes.PAUSED) {
      log.warn({ ...context, reason: message }, 'paused: skipping the run');
      return { kind: 'skipped', reason: 'paused', message };
    }
    if (isLetheError(error) && error.code === ErrorCodes.RUN_IN_PROGRESS) {
      log.warn(
        { ...context, lockWaitMs: request.lockWaitMs, reason: message },
        request.lockWaitMs > 0
          ? 'another run still held the run lock after waiting: this run is skipped'
          : 'another run holds the run lock: this run is refused (overlap policy "refuse")',
      );
      return { kind: 'skipped', reason: 'busy', message };
    }
    log.error({ ...context, error: message, code: isLetheError(error) ? error.code : (error as { code?: unknown })?.code }, 'run failed to start or crashed');
    return { kind: 'failed', error };
  }
}
