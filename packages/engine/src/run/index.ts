import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { AuditActions, writeAudit } from '../db/tables/audit.js';
import { claimExpiredRows, soloBatches } from './claim.js';
import { pause, readControl } from '../db/tables/control.js';
import { recheckSql } from './recheck.js';
import { DEFAULT_PRESENCE, PresenceGuard } from './storage-presence.js';
import { resendIfUnsent } from '../db/pool.js';
import { ConfigError, describeError, ErrorCodes, LetheError } from '../errors.js';
import { readExpiredRows, type PurposeSelection } from './source.js';
import { FailureBreaker } from './breaker.js';
import { inspectJobsTable, type JobsTable } from '../db/jobs-table.js';
import { writeOutcomesSql } from './record.js';
import { erasurePlan } from './erase.js';
import { ledgerKeyFunction } from '../policy/ledger-keys.js';
import type { ResolvedOptions } from '../options.js';
import { runPipeline, type PipelineRequest } from './pipeline.js';
import { deadRunNotification, runEndNotification } from '../notify/events.js';
import { safeNotify } from '../notify/notifier.js';
import { isCalendarRetention, retentionToInterval, type PolicySet } from '../policy/retention.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { ExpiredRow, RunProgress, StoragePort } from '../ports.js';
import { RunDeleteLimiter } from './rate-limiter.js';
import { closeDeadWorkers, finalizeGroupIfDone, joinGroup, validateGroupId } from './group.js';
import { admitToGroup, judgeGroupBlastRadius, preRunCheck, type PreRunCheck } from './plan/guards.js';
import { acquireRunLock } from './lock.js';
import { buildSummary, progressReporter, tripBreaker } from './finish.js';
import { decideRunStatus, type RunVerdict } from './status.js';
import { closeInterruptedRuns, finishRun, insertRun, touchRun } from '../db/tables/runs.js';
import { SummaryBuilder, type RunSummary, type RunTrigger } from './summary.js';
import { findUnreadableRows } from './unreadable.js';
import { DerivedStep } from './derived/step.js';
import { runChainHead } from '../db/tables/ledger-chain.js';
import { RunJournal } from '../journal/journal.js';
import type { JournalStore } from '../journal/store.js';

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
  /**
   * Pause Lethe when the blast-radius guard refuses the run (default true). An operator's backlog
   * run passes false: its refusal asks for --allow-large without stopping the scheduled runs.
   */
  readonly pauseOnRefusal?: boolean;
  /**
   * Record files the database names but storage does not hold as absent, instead of stopping the
   * run as storage that lies (docs/safety.md#storage-that-lies): the operator has checked the mount.
   */
  readonly allowMissing?: boolean;
  /** Test hook: awaited in each batch's transaction right before its re-check (interleaving tests). */
  readonly beforeRecheck?: (rows: readonly ExpiredRow[]) => Promise<void>;
  /**
   * Scale-out: be one worker of the logical run `group` (claims batches with SKIP LOCKED, shares
   * the group's cutoff; the last worker writes the single audit row). See docs/scaling.md.
   */
  readonly group?: string;
  /** With `group`: only rows whose id hashes to this shard (a Kubernetes Indexed Job's index). */
  readonly shard?: { readonly index: number; readonly count: number };
  /**
   * An erasure request's run (requests/request-run.ts builds it; docs/rights.md#how-a-request-runs):
   * its rows come from the request instead of the expired-row query, and its re-check tests "still
   * named, not retained, not held" instead of "expired". The run lock, pause, intents, storage
   * guard, outcome statement and run record are the retention run's own.
   */
  readonly request?: RunRequest;
}

export interface RunRequest {
  readonly reference: string;
  rows(table: JobsTable, policies: readonly PurposeSelection[], signal: AbortSignal): AsyncIterable<ExpiredRow[]>;
  recheck(table: JobsTable, policies: PolicySet, selections: readonly PurposeSelection[]): PipelineRequest['recheck'];
}

export interface RunDeps {
  readonly pool: pg.Pool;
  readonly storage: StoragePort;
  readonly options: ResolvedOptions;
  /** The erasure journal's store (docs/safety.md#erasures-survive-a-backup-restore); null or absent: no journal. */
  readonly journal?: JournalStore | null;
}

/** What a run needs to know before its first batch; solo runs and group workers differ only here. */
interface RunPlan {
  readonly cutoff: string;
  readonly policyVersion: number;
  readonly policies: PolicySet;
  readonly selected: PurposeSelection[];
  readonly check: PreRunCheck;
  readonly group: { readonly id: string; readonly shard: string | null } | null;
}

/**
 * One run: lock, fix the cutoff from the database clock, record the run, stream expired rows
 * through the pipeline, then write the run's summary (runs row + audit_logs row) whatever
 * happened. Rejects only when the run could not start (lock held, paused, bad options).
 */
export async function executeRun(deps: RunDeps, runOptions: RunOptions = {}): Promise<RunSummary> {
  const { pool, options } = deps;
  validateRunOptions(runOptions);
  const lock = await acquireRunLock(pool, {
    waitMs: runOptions.lockWaitMs ?? options.lockWaitMs,
    clock: options.clock,
    shared: runOptions.group !== undefined,
    ...(runOptions.signal ? { signal: runOptions.signal } : {}),
  });
  try {
    return await runLocked(deps, runOptions, lock.lost);
  } finally {
    await lock.release();
  }
}

function validateRunOptions(o: RunOptions): void {
  if (o.limit !== undefined && (!Number.isInteger(o.limit) || o.limit < 1))
    throw new ConfigError(`limit: must be a positive integer, got ${JSON.stringify(o.limit)}`);
  if (o.group !== undefined) {
    validateGroupId(o.group);
    if (o.dryRun) throw new ConfigError('group: a dry run cannot be part of a worker group; drop --dry-run or --group');
    if (o.limit !== undefined) throw new ConfigError('group: workers of a group run to the end of the backlog; drop --limit');
  }
  if (o.request !== undefined && (o.group !== undefined || o.dryRun || o.limit !== undefined || o.purposes !== undefined)) {
    throw new ConfigError(
      'request: an erasure request runs alone, on every purpose, to its end: drop --group, --dry-run (use `lethe erase --dry-run`), --limit and --purpose',
    );
  }
  if (o.shard !== undefined) {
    if (o.group === undefined) throw new ConfigError('shard: --shard i/N needs --group (the same group id for every shard, e.g. the Job name)');
    const { index, count } = o.shard;
    if (!Number.isInteger(count) || count < 1 || count > 1024 || !Number.isInteger(index) || index < 0 || index >= count) {
      throw new ConfigError(`shard: expected i/N with 0 <= i < N <= 1024, got ${JSON.stringify(o.shard)}`);
    }
  }
}

async function planRun(deps: RunDeps, runOptions: RunOptions, table: JobsTable): Promise<RunPlan> {
  const { pool, options } = deps;
  const dryRun = runOptions.dryRun === true;
  if (runOptions.group !== undefined) {
    // A group takes workers only under its own policy version (joinGroup refuses a superseded one),
    // and only once its creator has judged its whole backlog by the blast-radius guard.
    const current = await loadCurrentPolicies(pool);
    const selected = selectPurposes(current.policies, runOptions.purposes);
    const allowLarge = runOptions.allowLarge === true;
    const groupId = runOptions.group;
    const g = await joinGroup(pool, {
      groupId,
      policyVersion: current.version,
      shardCount: runOptions.shard?.count ?? null,
      judge: (cutoff) => judgeGroupBlastRadius(pool, options, table, { groupId, cutoff, selected, allowLarge }),
    });
    const blastRadius = await admitToGroup(pool, options, g, { selected, allowLarge });
    await closeDeadWorkers(pool, g.groupId, options.groupStaleMs);
    const shard = runOptions.shard ? `${runOptions.shard.index}/${runOptions.shard.count}` : null;
    return {
      cutoff: g.cutoff,
      policyVersion: current.version,
      policies: current.policies,
      selected,
      check: { blastRadius, estimate: null },
      group: { id: g.groupId, shard },
    };
  }
  const interrupted = await closeInterruptedRuns(pool);
  for (const r of interrupted) {
    options.logger.warn({ interruptedRunId: r.id, deleted: r.deleted }, 'a previous run did not finish; recorded it as interrupted');
    safeNotify(options.notifier, deadRunNotification(r, options.host));
  }
  const policy = await loadCurrentPolicies(pool);
  const selected = selectPurposes(policy.policies, runOptions.purposes);
  const { rows } = await pool.query<{ cutoff: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cutoff`);
  const cutoff = rows[0]!.cutoff;
  // A request names its rows (a DPO checked them: `lethe erase --dry-run`); the blast-radius
  // guard judges the expired backlog, which a request does not touch.
  if (runOptions.request)
    return { cutoff, policyVersion: policy.version, policies: policy.policies, selected, check: { blastRadius: null, estimate: null }, group: null };
  const check = await preRunCheck(pool, options, table, selected, cutoff, {
    dryRun,
    allowLarge: runOptions.allowLarge === true,
    estimateTotal: runOptions.estimateTotal === true,
    limit: runOptions.limit,
    pauseOnRefusal: runOptions.pauseOnRefusal !== false,
  });
  return { cutoff, policyVersion: policy.version, policies: policy.policies, selected, check, group: null };
}

async function runLocked(deps: RunDeps, runOptions: RunOptions, lockLost: AbortSignal): Promise<RunSummary> {
  const { pool, options, storage } = deps;
  const dryRun = runOptions.dryRun === true;
  const control = await readControl(pool);
  if (control.paused && !dryRun) {
    throw new LetheError(
      ErrorCodes.PAUSED,
      `Lethe is paused (by ${control.pausedBy ?? 'unknown'} at ${control.pausedAt ?? '?'}: ${control.reason ?? 'no reason given'}); run \`lethe resume\` first`,
    );
  }
  const table = await inspectJobsTable(pool, options.jobs);
  const plan = await planRun(deps, runOptions, table);
  const runId = randomUUID();
  const trigger = runOptions.trigger ?? (plan.group ? 'worker' : runOptions.request ? 'request' : 'manual');
  const startedMs = options.clock.now();
  await insertRun(pool, {
    id: runId,
    trigger,
    dryRun,
    cutoff: plan.cutoff,
    policyVersion: plan.policyVersion,
    host: options.host,
    pid: process.pid,
    version: options.version,
    groupId: plan.group?.id ?? null,
    shard: plan.group?.shard ?? null,
  });
  runOptions.onStart?.(runId);
  const log = options.logger.child({ runId, ...(plan.group ? { group: plan.group.id, shard: plan.group.shard } : {}) });
  log.info({ trigger, dryRun, cutoff: plan.cutoff, policyVersion: plan.policyVersion, storage: storage.describe }, 'run started');

  const summary = new SummaryBuilder({
    erasedKeys: options.summaryErasedKeys,
    failures: options.summaryFailures,
    keyFor: ledgerKeyFunction(options.ledgerKeyHmacSecret),
  });
  const abort = AbortSignal.any([lockLost, ...(runOptions.signal ? [runOptions.signal] : [])]);
  const breaker = new FailureBreaker({ window: options.breakerWindow, tripShare: options.breakerTripShare });
  const progress = progressReporter(pool, options, runId, summary, startedMs, runOptions.onProgress, plan.check.estimate);
  const heartbeat = setInterval(() => void touchRun(pool, runId).catch(() => {}), options.heartbeatMs);
  heartbeat.unref();
  let verdict: RunVerdict;
  let wouldDelete = 0;
  let derived: DerivedStep | null = null;
  try {
    // Derived data (docs/rights.md#derived-data): declared tables and columns are checked here, before the first delete.
    if (!dryRun)
      derived = await DerivedStep.create({
        pool,
        table,
        storage,
        declarations: options.derived,
        runId,
        ledgerKey: ledgerKeyFunction(options.ledgerKeyHmacSecret),
        breaker,
      });
    if (!runOptions.request) summary.unreadable = await findUnreadableRows(pool, table, Object.keys(plan.policies), options.unreadableCountCap);
    let lastPoll = 0;
    const allPolicies = Object.entries(plan.policies).map(([purpose, r]) => ({ purpose, interval: retentionToInterval(r), calendar: isCalendarRetention(r) }));
    const source = runOptions.request
      ? soloBatches(pool, runOptions.request.rows(table, allPolicies, abort))
      : plan.group
        ? claimExpiredRows(pool, {
            table,
            purposes: plan.selected,
            cutoff: plan.cutoff,
            batchSize: options.batchSize,
            groupId: plan.group.id,
            signal: abort,
            shard: runOptions.shard ?? null,
            waitMs: Math.min(1000, options.heartbeatMs),
            sleep: options.clock.sleep,
            othersRunning: () => peersStillWorking(pool, plan.group!.id, runId, options.groupStaleMs),
            busy: async () => void (await pool.query(`UPDATE lethe_runs SET idle_since = NULL WHERE id = $1`, [runId])),
          })
        : soloBatches(
            pool,
            readExpiredRows(pool, {
              table,
              purposes: plan.selected,
              cutoff: plan.cutoff,
              batchSize: options.batchSize,
              signal: abort,
              ...(runOptions.limit ? { limit: runOptions.limit } : {}),
            }),
          );
    const result = await runPipeline(source, {
      pool,
      table,
      storage,
      cutoff: plan.cutoff,
      summary,
      dryRun,
      runId,
      breaker,
      recheck: { table, policies: allPolicies, selectedPurposes: new Set(plan.selected.map((p) => p.purpose)), cutoff: plan.cutoff },
      recheckSql: recheckSql(table),
      derived,
      presence: new PresenceGuard(storage, (ids) => crashedIntents(pool, runId, ids), { ...DEFAULT_PRESENCE, allowMissing: runOptions.allowMissing === true }),
      ...(runOptions.beforeRecheck ? { beforeRecheck: runOptions.beforeRecheck } : {}),
      ...(runOptions.request
        ? { request: { reference: runOptions.request.reference, recheck: runOptions.request.recheck(table, plan.policies, allPolicies) } }
        : {}),
      limiter: new RunDeleteLimiter({
        perSecond: options.deletesPerSecond,
        perPrefixPerSecond: options.deletesPerSecondPerPrefix,
        burst: options.batchSize,
        clock: options.clock,
      }),
      outcomeSql: writeOutcomesSql(table, { stripFileKey: options.ledgerKeyHmacSecret !== null }),
      erasure: erasurePlan(options, runId),
      // Wall time, not the run's clock: a journal's erased_at is what `lethe replay --since` is compared with.
      journal:
        !dryRun && deps.journal ? new RunJournal(deps.journal, { runId, ledgerKey: ledgerKeyFunction(options.ledgerKeyHmacSecret), now: Date.now }) : null,
      now: Date.now,
      policyVersion: plan.policyVersion,
      policies: allPolicies,
      maxBatchesInFlight: options.maxBatchesInFlight,
      logger: log,
      signal: abort,
      onBatchDone: progress.tick,
      shouldStop: async () => {
        if (abort.aborted) return 'interrupted'; // decideRunStatus makes it `failed` when the lock was lost
        if (dryRun || options.clock.now() - lastPoll < options.pausePollMs) return null;
        lastPoll = options.clock.now();
        return (await readControl(pool)).paused ? 'paused' : null;
      },
    });
    wouldDelete = result.wouldDelete;
    verdict = decideRunStatus({ ...result, lockLost: lockLost.aborted, lockLostReason: lockLost.reason });
  } catch (e) {
    verdict = decideRunStatus({
      batchStop: null,
      batchStopError: null,
      loopStop: null,
      fatal: e,
      breakerTripped: false,
      aborted: false,
      lockLost: false,
      lockLostReason: null,
    });
  } finally {
    clearInterval(heartbeat);
    progress.stop();
    await derived?.close().catch(() => {});
  }
  const { stoppedBy, status } = verdict;
  let { error } = verdict;
  if (stoppedBy === 'breaker' && !error) error = await tripBreaker(pool, options, runId, breaker.share ?? 1);
  if (stoppedBy === 'storage') await pauseForStorage(pool, options, runId, error);
  if (status === 'completed' && !dryRun) await forgetSettledIntents(pool, table).catch(() => {});
  const result = buildSummary(options, {
    runId,
    trigger,
    dryRun,
    startedMs,
    endedMs: options.clock.now(),
    cutoff: plan.cutoff,
    policyVersion: plan.policyVersion,
    policies: plan.policies,
    storage: storage.describe,
    summary,
    wouldDelete,
    status,
    error,
    check: plan.check,
    limit: runOptions.limit,
    purposes: runOptions.purposes,
    group: plan.group,
  });
  await recordSummary(deps, result);
  log[result.status === 'completed' ? 'info' : 'warn'](
    {
      status: result.status,
      deleted: result.deleted_count,
      failed: result.failed_count,
      refused: result.refused_count,
      shared: result.shared_count,
      held: result.held_count,
      durationSeconds: result.duration_seconds,
      ...(result.error ? { error: result.error } : {}),
    },
    'run finished',
  );
  safeNotify(options.notifier, runEndNotification(result));
  return result;
}

/**
 * Writes the run's record; if the database is gone, the run row stays `running` and the next run
 * closes it. A group worker's audit row is its own action; the group's single
 * `cleanup_expired_jobs` row is written by the last worker out.
 */
async function recordSummary(deps: RunDeps, summary: RunSummary): Promise<void> {
  try {
    const chain = summary.dry_run ? null : await resendIfUnsent(() => runChainHead(deps.pool, summary.run_id, deps.options.ledgerSigningKey));
    await resendIfUnsent(() => finishRun(deps.pool, summary, chain));
    const action = summary.dry_run ? AuditActions.DRY_RUN : summary.group_id ? AuditActions.WORKER_FINISHED : AuditActions.RUN;
    await resendIfUnsent(() => writeAudit(deps.pool, action, { ...summary }));
    const groupId = summary.group_id;
    if (groupId) {
      const group = await resendIfUnsent(() => finalizeGroupIfDone(deps.pool, groupId, deps.options.groupStaleMs));
      if (group) deps.options.logger.info({ group: groupId, deleted: group.deleted_count }, 'group finished; its audit row is written');
    }
  } catch (error) {
    deps.options.logger.error(
      { runId: summary.run_id, error: describeError(error) },
      'could not record the run summary; the next run will record this run as interrupted',
    );
    if (!summary.error) throw error;
  }
}

/**
 * A worker with nothing left to claim marks itself idle and waits while a peer is still working
 * (a peer that dies releases its claimed rows; this worker then claims them). Idle peers do not
 * count, or every worker would wait for every other.
 */
async function peersStillWorking(pool: pg.Pool, groupId: string, runId: string, staleMs: number): Promise<boolean> {
  await pool.query(`UPDATE lethe_runs SET idle_since = coalesce(idle_since, now()), heartbeat_at = now() WHERE id = $1`, [runId]);
  await closeDeadWorkers(pool, groupId, staleMs);
  const r = await pool.query(`SELECT 1 FROM lethe_runs WHERE group_id = $1 AND status = 'running' AND id <> $2 AND idle_since IS NULL LIMIT 1`, [
    groupId,
    runId,
  ]);
  return (r.rowCount ?? 0) > 0;
}

/**
 * Of these job ids, those another run's batch was erasing when its transaction died (its intent is
 * left; the rows are ours to lock, so that transaction is gone): their files may be gone without
 * a ledger row, so finding them absent is expected, not a lying store.
 */
async function crashedIntents(pool: pg.Pool, runId: string, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT DISTINCT x.id FROM lethe_inflight i, unnest(i.job_ids) AS x(id) WHERE i.run_id <> $1 AND i.job_ids && $2::text[] AND x.id = ANY($2::text[])`,
    [runId, ids],
  );
  return new Set(rows.map((r) => r.id));
}

/** Intents of stopped runs whose rows are all gone are settled: nothing is left to expect absent. */
async function forgetSettledIntents(pool: pg.Pool, table: JobsTable): Promise<void> {
  await pool.query(`DELETE FROM lethe_inflight i WHERE NOT EXISTS (SELECT 1 FROM lethe_runs r WHERE r.id = i.run_id AND r.status = 'running')
      AND NOT EXISTS (SELECT 1 FROM ${table.table} j WHERE j.${table.id} = ANY(i.job_ids::${table.idType}[]))`);
}

/** Storage that lies: pause Lethe everywhere with the reason, so the schedule does not try again blindly. */
async function pauseForStorage(pool: pg.Pool, options: ResolvedOptions, runId: string, error: unknown): Promise<void> {
  try {
    await pause(pool, { by: 'lethe:storage-check', reason: `run ${runId}: ${describeError(error)}` }, options.notifier);
  } catch (e) {
    options.logger.error({ runId, error: describeError(e) }, 'the storage check could not pause Lethe');
  }
}

function selectPurposes(policies: PolicySet, wanted: readonly string[] | undefined): PurposeSelection[] {
  const known = Object.keys(policies);
  for (const p of wanted ?? []) {
    if (!known.includes(p))
      throw new ConfigError(
        `purpose: unknown purpose ${JSON.stringify(p)}; expected one of ${known.map((k) => JSON.stringify(k)).join(', ')}`,
        ErrorCodes.POLICY_UNKNOWN,
      );
  }
  return known
    .filter((p) => !wanted || wanted.includes(p))
    .map((purpose) => {
      const r = policies[purpose]!;
      return { purpose, interval: retentionToInterval(r), calendar: isCalendarRetention(r) };
    });
}
