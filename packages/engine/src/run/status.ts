import type { RunStatus } from './summary.js';

/**
 * Why a run stopped before the end of its backlog: `paused` (control row), `interrupted` (the
 * caller's signal), `failed` (an error, or the run lock lost), `breaker` (the failure breaker,
 * runbook FM-002), `storage` (storage that lies, docs/safety.md#storage-that-lies), `policy` (the
 * policy version changed under the run).
 */
export type StopReason = 'paused' | 'interrupted' | 'failed' | 'breaker' | 'storage' | 'policy';

/** What a run knew when its pipeline ended: the facts its final status is decided from. */
export interface RunStopFacts {
  /** A stop asked by a batch under its row locks (pause seen, policy changed, breaker, storage lies): the first one wins. */
  readonly batchStop: StopReason | null;
  /** The error a batch stop carries (policy changed, storage that lies), or null. */
  readonly batchStopError: unknown;
  /** The reason the pipeline stopped taking batches between them (the breaker, a pause polled, the signal), or null. */
  readonly loopStop: StopReason | null;
  /** An error thrown by a batch, the row source or the pipeline itself, or null. */
  readonly fatal: unknown;
  /** The failure breaker had tripped when the last batch drained. */
  readonly breakerTripped: boolean;
  /** The run's abort signal (the caller's signal, or the run lock lost) had fired. */
  readonly aborted: boolean;
  /** The run lock was lost (its session died): the run must not go on deleting, and is `failed`. */
  readonly lockLost: boolean;
  readonly lockLostReason: unknown;
}

export interface RunVerdict {
  readonly stoppedBy: StopReason | null;
  readonly status: Exclude<RunStatus, 'running'>;
  /** The run's error (recorded in its summary), or null. */
  readonly error: unknown;
}

/**
 * The one place a run's final status is decided (status.test.ts has the table). A stop asked
 * by a batch wins over everything (its batches were kept untouched); then an error; then the stop
 * between batches; then the breaker seen at the end; then the signal. A tripped breaker pauses
 * Lethe, so its run is `paused`, even with an error; any other error makes the run `failed`.
 */
export function decideRunStatus(f: RunStopFacts): RunVerdict {
  const stoppedBy = stopOf(f);
  const error = (f.batchStop ? (f.fatal ?? f.batchStopError) : f.fatal) ?? (f.lockLost ? f.lockLostReason : null);
  return { stoppedBy, status: statusOf(stoppedBy, error), error };
}

function stopOf(f: RunStopFacts): StopReason | null {
  if (f.batchStop) return f.batchStop;
  if (f.fatal) return 'failed';
  const stop = f.loopStop ?? (f.breakerTripped ? 'breaker' : f.aborted ? 'interrupted' : null);
  // The signal fired because the run lock was lost: that is a failure, not an interruption.
  return stop === 'interrupted' && f.lockLost ? 'failed' : stop;
}

function statusOf(stoppedBy: StopReason | null, error: unknown): RunVerdict['status'] {
  if (stoppedBy === 'breaker') return 'paused';
  if (error) return 'failed';
  switch (stoppedBy) {
    case null:
      return 'completed';
    case 'paused':
    case 'interrupted':
      return stoppedBy;
    // `storage` and `policy` stops always carry their error; without one they still did not complete.
    case 'failed':
    case 'storage':
    case 'policy':
      return 'failed';
  }
}
