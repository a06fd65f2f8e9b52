import { AuditActions, writeAudit } from '../db/tables/audit.js';
import { pause } from '../db/tables/control.js';
import { describeError, ErrorCodes, isConnectionLoss, LetheError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { policiesToJson, type PolicySet } from '../policy/retention.js';
import type { RunProgress } from '../ports.js';
import type { PreRunCheck } from './plan/guards.js';
import { recordProgress } from '../db/tables/runs.js';
import type { Queryable } from '../db/pool.js';
import type { RunStatus, RunSummary, RunTrigger, SummaryBuilder } from './summary.js';

/** What a finished run knew, to turn into its summary. */
export interface RunFacts {
  readonly runId: string;
  readonly trigger: RunTrigger;
  readonly dryRun: boolean;
  readonly startedMs: number;
  readonly endedMs: number;
  readonly cutoff: string;
  readonly policyVersion: number;
  readonly policies: PolicySet;
  readonly storage: string;
  readonly summary: SummaryBuilder;
  readonly wouldDelete: number;
  /** Decided by decideRunStatus (run/status.ts), the one place that does. */
  readonly status: RunStatus;
  readonly error: unknown;
  readonly check: PreRunCheck;
  readonly limit: number | undefined;
  readonly purposes: readonly string[] | undefined;
  readonly group: { readonly id: string; readonly shard: string | null } | null;
}

export function buildSummary(options: ResolvedOptions, f: RunFacts): RunSummary {
  const t = f.summary.totals();
  const attempted = t.erased + t.absent + t.failed;
  const degraded = attempted > 0 && t.failed / attempted > options.degradedShare;
  return {
    run_id: f.runId,
    status: f.status,
    trigger: f.trigger,
    dry_run: f.dryRun,
    started_at: new Date(f.startedMs).toISOString(),
    ended_at: new Date(f.endedMs).toISOString(),
    cutoff: f.cutoff,
    policy_version: f.policyVersion,
    policies: policiesToJson(f.policies),
    storage: f.storage,
    version: options.version,
    host: options.host,
    deleted_count: t.erased + t.absent,
    failed_count: t.failed,
    erased_count: t.erased,
    absent_count: t.absent,
    refused_count: t.refused,
    shared_count: t.shared,
    held_count: t.held,
    held_files: f.summary.heldFiles,
    shared_files: f.summary.sharedFiles,
    changed_count: t.changed,
    vanished_count: t.vanished,
    selected_count: t.selected,
    would_delete_count: f.wouldDelete,
    by_purpose: f.summary.byPurpose,
    failed_files: f.summary.failedFiles,
    errors: f.summary.errors,
    refused: f.summary.refused,
    erased_keys: f.summary.erasedKeys,
    erased_keys_truncated: f.summary.erasedKeysTruncated,
    unreadable: f.summary.unreadable,
    duration_seconds: Math.round(f.endedMs - f.startedMs) / 1000,
    error: f.error ? { code: errorCode(f.error), message: runErrorMessage(f.error) } : null,
    limit: f.limit ?? null,
    degraded,
    degraded_reason: degraded
      ? `${t.failed} of ${attempted} deletes failed (${Math.round((100 * t.failed) / attempted)}%, above ${Math.round(100 * options.degradedShare)}%)`
      : null,
    blast_radius: f.check.blastRadius ? { ...f.check.blastRadius } : null,
    expired_estimate: f.check.estimate,
    phase_ms: Object.fromEntries(Object.entries(f.summary.phaseMs).map(([k, v]) => [k, Math.round(v)])),
    purposes: f.purposes ? [...f.purposes] : null,
    group_id: f.group?.id ?? null,
    shard: f.group?.shard ?? null,
  };
}

/** A run-level error is a database error (storage failures are outcomes): say so when the connection went. */
function runErrorMessage(error: unknown): string {
  const described = describeError(error);
  return isConnectionLoss(error)
    ? `the database connection was lost during the run (${described}); batches already written are recorded: run again to continue`
    : described;
}

export function errorCode(error: unknown): string {
  if (error instanceof LetheError) return error.code;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : ErrorCodes.DATABASE;
}

/** The failure breaker tripped: pause Lethe everywhere with the reason (runbook FM-002: > 50% failing). */
export async function tripBreaker(db: Queryable, options: ResolvedOptions, runId: string, share: number): Promise<LetheError> {
  const reason = `failure breaker: ${Math.round(share * 100)}% of the last ${options.breakerWindow} deletes failed (above ${Math.round(options.breakerTripShare * 100)}%) in run ${runId}; investigate storage (runbook FM-002) before resuming`;
  try {
    await pause(db, { by: 'lethe:failure-breaker', reason }, options.notifier);
    await writeAudit(db, AuditActions.FAILURE_BREAKER, { run_id: runId, share, window: options.breakerWindow });
  } catch (error) {
    options.logger.error({ runId, error: describeError(error) }, 'the failure breaker could not pause Lethe');
  }
  return new LetheError(ErrorCodes.FAILURE_BREAKER, reason);
}

/** Progress for the caller (a terminal) and the runs row (`lethe status`), at most every interval. */
export function progressReporter(
  db: Queryable,
  options: ResolvedOptions,
  runId: string,
  summary: SummaryBuilder,
  startedMs: number,
  onProgress: ((p: RunProgress) => void) | undefined,
  total: number | null,
) {
  const { clock, progressIntervalMs } = options;
  let last = startedMs;
  let writing = false;
  const snapshot = (): RunProgress => {
    const t = summary.totals();
    return {
      runId,
      selected: t.selected,
      processed: t.erased + t.absent + t.failed + t.refused + t.shared + t.held + t.changed + t.vanished,
      deleted: t.erased + t.absent,
      failed: t.failed,
      total,
      elapsedMs: clock.now() - startedMs,
    };
  };
  return {
    tick: () => {
      const now = clock.now();
      if (now - last < progressIntervalMs) return;
      last = now;
      const p = snapshot();
      onProgress?.(p);
      if (!writing) {
        writing = true;
        void recordProgress(db, runId, p)
          .catch(() => {})
          .finally(() => (writing = false));
      }
    },
    stop: () => {
      // A run that showed progress ends with its final figures.
      if (last !== startedMs) onProgress?.(snapshot());
    },
  };
}
