import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { AuditActions, writeAudit } from './audit.js';
import { readControl } from './control.js';
import { ConfigError, describeError, ErrorCodes, LetheError } from './errors.js';
import { readExpiredRows, type PurposeSelection } from './expired-rows.js';
import { inspectJobsTable } from './jobs-table.js';
import { writeOutcomesSql } from './ledger.js';
import type { ResolvedOptions } from './options.js';
import { runPipeline, type StopReason } from './pipeline.js';
import { isCalendarRetention, policiesToJson, retentionToInterval } from './policy.js';
import { loadCurrentPolicies } from './policy-store.js';
import type { RunProgress, StoragePort } from './ports.js';
import { TokenBucket } from './rate-limiter.js';
import { acquireRunLock } from './run-lock.js';
import { closeInterruptedRuns, finishRun, insertRun, recordProgress } from './runs.js';
import { SummaryBuilder, type RunStatus, type RunSummary, type RunTrigger } from './summary.js';
import { findUnreadableRows } from './unreadable-rows.js';
import { FailureBreaker } from './failure-breaker.js';
import { preRunCheck } from './run-guards.js';
import { pause } from './control.js';
import { AuditActions as Actions } from './audit.js';

export interface RunOptions {
  readonly dryRun?: boolean;
  /** Stop after this many expired rows. */
  readonly limit?: number;
  /** Only these purposes (each must have a policy). */
  readonly purposes?: readonly string[];
  readonly trigger?: RunTrigger;
  /** Abort: stop taking batches, drain those in flight, record the run as `interrupted`. */
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: RunProgress) => void;
  readonly lockWaitMs?: number;
  /** Called once the run has its id and row (the HTTP API returns the id at once). */
  readonly onStart?: (runId: string) => void;
  /** Count the expired rows first (one index-range count per purpose), so progress has a total and an ETA. */
  readonly estimateTotal?: boolean;
  /** Proceed past the blast-radius guard (an operator has checked the numbers). */
  readonly allowLarge?: boolean;
}

export interface RunDeps {
  readonly pool: pg.Pool;
  readonly storage: StoragePort;
  readonly options: ResolvedOptions;
}

/**
 * One run: lock, fix the cutoff from the database clock, record the run, stream expired rows
 * through the pipeline, then write the run's summary (runs row + audit_logs row) whatever
 * happened. Rejects only when the run could not start (lock held, paused, bad options).
 */
export async function executeRun(deps: RunDeps, runOptions: RunOptions = {}): Promise<RunSummary> {
  const { pool, options } = deps;
  const dryRun = runOptions.dryRun === true;
  if (runOptions.limit !== undefined && (!Number.isInteger(runOptions.limit) || runOptions.limit < 1)) {
    throw new ConfigError(`limit: must be a positive integer, got ${JSON.stringify(runOptions.limit)}`);
  }
  const lock = await acquireRunLock(pool, {
    waitMs: runOptions.lockWaitMs ?? options.lockWaitMs,
    clock: options.clock,
    ...(runOptions.signal ? { signal: runOptions.signal } : {}),
  });
  try {
    return await runLocked(deps, runOptions, dryRun, lock.lost);
  } finally {
    await lock.release();
  }
}

async function runLocked(deps: RunDeps, runOptions: RunOptions, dryRun: boolean, lockLost: AbortSignal): Promise<RunSummary> {
  const { pool, options, storage } = deps;
  const interrupted = await closeInterruptedRuns(pool);
  for (const r of interrupted) options.logger.warn({ interruptedRunId: r.id, deleted: r.deleted }, 'a previous run did not finish; recorded it as interrupted');
  const control = await readControl(pool);
  if (control.paused && !dryRun) {
    throw new LetheError(ErrorCodes.PAUSED, `Lethe is paused (by ${control.pausedBy ?? 'unknown'} at ${control.pausedAt ?? '?'}: ${control.reason ?? 'no reason given'}); run \`lethe resume\` first`);
  }
  const table = await inspectJobsTable(pool, options.jobs);
  const policy = await loadCurrentPolicies(pool);
  const selected = selectPurposes(policy.policies, runOptions.purposes);
  const { rows } = await pool.query<{ cutoff: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cutoff`);
  const cutoff = rows[0]!.cutoff;
  const check = await preRunCheck(pool, options, table, selected, cutoff, {
    dryRun, allowLarge: runOptions.allowLarge === true, estimateTotal: runOptions.estimateTotal === true, limit: runOptions.limit,
  });
  const runId = randomUUID();
  const trigger = runOptions.trigger ?? 'manual';
  const startedMs = options.clock.now();
  const startedAt = new Date(startedMs).toISOString();
  await insertRun(pool, { id: runId, trigger, dryRun, cutoff, policyVersion: policy.version, host: options.host, pid: process.pid, version: options.version });
  runOptions.onStart?.(runId);
  const log = options.logger.child({ runId });
  log.info({ trigger, dryRun, cutoff, policyVersion: policy.version, storage: storage.describe }, 'run started');

  const summary = new SummaryBuilder({ erasedKeys: options.summaryErasedKeys, failures: options.summaryFailures });
  const abort = AbortSignal.any([lockLost, ...(runOptions.signal ? [runOptions.signal] : [])]);
  let error: unknown = null;
  let stoppedBy: StopReason | null = null;
  let wouldDelete = 0;
  const estimate: { total: number | null } = { total: check.estimate };
  const breaker = new FailureBreaker({ window: options.breakerWindow, tripShare: options.breakerTripShare });
  const progress = progressReporter(deps, runId, summary, startedMs, runOptions.onProgress, estimate);
  try {
    summary.unreadable = await findUnreadableRows(pool, table, Object.keys(policy.policies), options.unreadableCountCap);
    let lastPoll = 0;
    const result = await runPipeline(
      readExpiredRows(pool, { table, purposes: selected, cutoff, batchSize: options.batchSize, signal: abort, ...(runOptions.limit ? { limit: runOptions.limit } : {}) }),
      {
        pool, table, storage, cutoff, summary, dryRun, runId, breaker,
        limiter: new TokenBucket(options.deletesPerSecond, Math.max(options.batchSize, options.deletesPerSecond), options.clock),
        outcomeSql: writeOutcomesSql(table),
        policyVersion: policy.version,
        policies: Object.entries(policy.policies).map(([purpose, r]) => ({ purpose, interval: retentionToInterval(r), calendar: isCalendarRetention(r) })),
        maxBatchesInFlight: options.maxBatchesInFlight,
        logger: log,
        signal: abort,
        onBatchDone: progress.tick,
        shouldStop: async () => {
          if (abort.aborted) return lockLost.aborted ? 'failed' : 'interrupted';
          if (dryRun || options.clock.now() - lastPoll < options.pausePollMs) return null;
          lastPoll = options.clock.now();
          return (await readControl(pool)).paused ? 'paused' : null;
        },
      },
    );
    stoppedBy = result.stoppedBy;
    wouldDelete = result.wouldDelete;
    error = result.error ?? (lockLost.aborted ? lockLost.reason : null);
    if (!error && abort.aborted && stoppedBy === null) stoppedBy = lockLost.aborted ? 'failed' : 'interrupted';
  } catch (e) {
    error = e;
  } finally {
    progress.stop();
  }
  if (stoppedBy === 'breaker' && !error) error = await tripBreaker(deps, runId, breaker.share ?? 1);
  const status: RunStatus = stoppedBy === 'breaker' ? 'paused' : error ? 'failed' : stoppedBy === 'paused' ? 'paused' : stoppedBy === 'interrupted' ? 'interrupted' : stoppedBy === 'failed' ? 'failed' : 'completed';
  const t = summary.totals();
  const attempted = t.erased + t.absent + t.failed;
  const degraded = attempted > 0 && t.failed / attempted > options.degradedShare;
  const endedMs = options.clock.now();
  const result: RunSummary = {
    run_id: runId, status, trigger, dry_run: dryRun,
    started_at: startedAt, ended_at: new Date(endedMs).toISOString(), cutoff,
    policy_version: policy.version, policies: policiesToJson(policy.policies),
    storage: storage.describe, version: options.version, host: options.host,
    deleted_count: t.erased + t.absent, failed_count: t.failed,
    erased_count: t.erased, absent_count: t.absent, refused_count: t.refused, shared_count: t.shared,
    held_count: t.held, held_files: summary.heldFiles,
    selected_count: t.selected, would_delete_count: wouldDelete,
    by_purpose: summary.byPurpose,
    failed_files: summary.failedFiles, errors: summary.errors, refused: summary.refused,
    erased_keys: summary.erasedKeys, erased_keys_truncated: summary.erasedKeysTruncated,
    unreadable: summary.unreadable,
    duration_seconds: Math.round(endedMs - startedMs) / 1000,
    error: error ? { code: errorCode(error), message: describeError(error) } : null,
    limit: runOptions.limit ?? null,
    degraded,
    degraded_reason: degraded ? `${t.failed} of ${attempted} deletes failed (${Math.round((100 * t.failed) / attempted)}%, above ${Math.round(100 * options.degradedShare)}%)` : null,
    blast_radius: check.blastRadius ? { ...check.blastRadius } : null,
    expired_estimate: check.estimate,
    phase_ms: Object.fromEntries(Object.entries(summary.phaseMs).map(([k, v]) => [k, Math.round(v)])),
    purposes: runOptions.purposes ? [...runOptions.purposes] : null,
  };
  await recordSummary(deps, result);
  log[status === 'completed' ? 'info' : 'warn'](
    { status, deleted: result.deleted_count, failed: result.failed_count, refused: result.refused_count, shared: result.shared_count, durationSeconds: result.duration_seconds, ...(result.error ? { error: result.error } : {}) },
    'run finished',
  );
  return result;
}

/** The failure breaker tripped: pause Lethe everywhere with the reason (runbook FM-002: > 50% failing). */
async function tripBreaker(deps: RunDeps, runId: string, share: number): Promise<LetheError> {
  const reason = `failure breaker: ${Math.round(share * 100)}% of the last ${deps.options.breakerWindow} deletes failed (above ${Math.round(deps.options.breakerTripShare * 100)}%) in run ${runId}; investigate storage (runbook FM-002) before resuming`;
  try {
    await pause(deps.pool, { by: 'lethe:failure-breaker', reason });
    await writeAudit(deps.pool, Actions.FAILURE_BREAKER, { run_id: runId, share, window: deps.options.breakerWindow });
  } catch (error) {
    deps.options.logger.error({ runId, error: describeError(error) }, 'the failure breaker could not pause Lethe');
  }
  return new LetheError(ErrorCodes.FAILURE_BREAKER, reason);
}

/** Writes the run's record; if the database is gone, the run row stays `running` and the next run closes it. */
async function recordSummary(deps: RunDeps, summary: RunSummary): Promise<void> {
  try {
    await finishRun(deps.pool, summary);
    await writeAudit(deps.pool, summary.dry_run ? AuditActions.DRY_RUN : AuditActions.RUN, { ...summary });
  } catch (error) {
    deps.options.logger.error({ runId: summary.run_id, error: describeError(error) }, 'could not record the run summary; the next run will record this run as interrupted');
    if (!summary.error) throw error;
  }
}

function selectPurposes(policies: Readonly<Record<string, { amount: number; unit: string }>>, wanted: readonly string[] | undefined): PurposeSelection[] {
  const known = Object.keys(policies);
  for (const p of wanted ?? []) {
    if (!known.includes(p)) throw new ConfigError(`purpose: unknown purpose ${JSON.stringify(p)}; expected one of ${known.map((k) => JSON.stringify(k)).join(', ')}`, ErrorCodes.POLICY_UNKNOWN);
  }
  return known
    .filter((p) => !wanted || wanted.includes(p))
    .map((purpose) => {
      const r = policies[purpose] as Parameters<typeof retentionToInterval>[0];
      return { purpose, interval: retentionToInterval(r), calendar: isCalendarRetention(r) };
    });
}

function errorCode(error: unknown): string {
  if (error instanceof LetheError) return error.code;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : ErrorCodes.DATABASE;
}

function progressReporter(deps: RunDeps, runId: string, summary: SummaryBuilder, startedMs: number, onProgress: RunOptions['onProgress'], estimate: { readonly total: number | null }) {
  const { clock, progressIntervalMs } = deps.options;
  let last = startedMs;
  let writing = false;
  const snapshot = (): RunProgress => {
    const t = summary.totals();
    return { runId, selected: t.selected, processed: t.erased + t.absent + t.failed + t.refused + t.shared, deleted: t.erased + t.absent, failed: t.failed, total: estimate.total, elapsedMs: clock.now() - startedMs };
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
        void recordProgress(deps.pool, runId, p).catch(() => {}).finally(() => (writing = false));
      }
    },
    stop: () => {
      // A run that showed progress ends with its final figures.
      if (last !== startedMs) onProgress?.(snapshot());
    },
  };
}
