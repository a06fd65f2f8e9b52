import type pg from 'pg';
import { distinctKeys, recheckBatch, type RecheckContext, type RecheckSql } from './recheck.js';
import { eraseKeys, type ErasurePlan } from './erase.js';
import { describeError, ErrorCodes, LetheError } from '../errors.js';
import type { PurposeSelection } from './source.js';
import type { JobsTable } from '../db/jobs-table.js';
import { textArray } from '../db/arrays.js';
import { writeOutcomes, type RowOutcome } from './record.js';
import type { ExpiredRow, KeyOutcome, Logger, StoragePort } from '../ports.js';
import type { DeleteLimiter } from './rate-limiter.js';
import type { BatchClaim, BatchTransaction, ClaimedBatch } from './claim.js';
import type { FailureBreaker } from './breaker.js';
import { keysToKeep } from './keep/shared-keys.js';
import type { PresenceGuard } from './storage-presence.js';
import { checkKey } from '../storage/keys.js';
import { isReservedKey, reservedKeyProblem } from '../storage/trash-keys.js';
import type { RunStopFacts, StopReason } from './status.js';
import type { SummaryBuilder } from './summary.js';
import type { RequestRecheckedBatch } from '../requests/request-recheck.js';
import type { DerivedStep } from './derived/step.js';
import type { ObjectEvidence } from './derived/objects.js';
import type { RunJournal } from '../journal/journal.js';
import type { JournalEntry } from '../journal/entries.js';

export type { StopReason } from './status.js';

export interface PipelineContext {
  readonly pool: pg.Pool;
  readonly table: JobsTable;
  readonly storage: StoragePort;
  readonly limiter: DeleteLimiter;
  readonly outcomeSql: string;
  readonly runId: string;
  readonly policyVersion: number;
  readonly policies: readonly PurposeSelection[];
  readonly cutoff: string;
  readonly summary: SummaryBuilder;
  readonly breaker: FailureBreaker;
  readonly maxBatchesInFlight: number;
  readonly dryRun: boolean;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Asked before each batch: a reason to stop taking new batches, or null to go on. */
  readonly shouldStop: () => Promise<StopReason | null>;
  readonly onBatchDone: () => void;
  /** Undo windows (trash instead of delete) and how keys are written to the ledger (docs/safety.md#undo-window-default-off). */
  readonly erasure?: ErasurePlan;
  /** The re-check under lock before each storage call (recheck.ts). */
  readonly recheck: RecheckContext;
  readonly recheckSql: RecheckSql;
  /** Storage that lies: sampled before the first delete, judged after each (storage-presence.ts). */
  readonly presence: PresenceGuard;
  /** Derived data deleted with the rows (docs/rights.md#derived-data): objects before the source, child rows before the job rows. */
  readonly derived?: DerivedStep | null;
  /**
   * Test hook: called in the batch's transaction right before its re-check (a barrier for
   * interleaving tests: the platform writes while the batch waits here).
   */
  readonly beforeRecheck?: (rows: readonly ExpiredRow[]) => Promise<void>;
  /**
   * An erasure request's run (docs/rights.md#how-a-request-runs): its re-check replaces "expired"
   * by "still named by the open request, not retained by statute, not held", and every ledger row
   * carries its reference. Everything else (locks, holds, pause, intents, storage guard) is shared.
   */
  readonly request?: PipelineRequest;
  /**
   * The erasure journal (docs/safety.md#erasures-survive-a-backup-restore): each batch's removed rows, written after its commit;
   * a failed write fails the run. Null: no journal (`journal: off`, or a storage given as an adapter).
   */
  readonly journal?: RunJournal | null;
  /** Epoch ms, for the journal's erased_at (the run's clock). */
  readonly now?: () => number;
}

export interface PipelineRequest {
  readonly reference: string;
  recheck(db: pg.PoolClient, rows: readonly ExpiredRow[]): Promise<RequestRecheckedBatch>;
}

/** The facts a run's status is decided from (run/status.ts; the run adds whether its lock was lost). */
export interface PipelineResult extends Omit<RunStopFacts, 'lockLost' | 'lockLostReason'> {
  readonly wouldDelete: number;
}

/** A stop asked by a batch (pause seen under lock, policy changed, storage lies): the first one wins. */
interface BatchStop {
  reason: StopReason | null;
  error: unknown;
}

/**
 * Data flows one way: source -> rate limiter -> per batch, one transaction: re-check under row
 * locks (recheck.ts: expiry, shared keys, holds, pause, policy) -> storage (worker pool) ->
 * outcome writer -> commit. Reading batch N+1 overlaps deleting batch N and writing batch N-1's
 * outcomes; at most `maxBatchesInFlight` batches are between the limiter and the commit. On a
 * stop, batches in flight are drained (their outcomes written), never abandoned; a batch that has
 * not reached storage is not started. Dry runs only read and judge (no locks).
 */
export async function runPipeline(source: AsyncIterable<ClaimedBatch>, ctx: PipelineContext): Promise<PipelineResult> {
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown = null;
  let stoppedBy: StopReason | null = null;
  let wouldDelete = 0;
  const stop: BatchStop = { reason: null, error: null };
  const removedAhead = new Set<string>();
  const keysInFlight = new Map<string, number>();
  // Journal writes of committed batches (journal.ts): a batch's slot is freed at its commit, and
  // its entries go out with those of the batches committed meanwhile. At most maxBatchesInFlight
  // are pending; all are awaited before the run reports, and a failed one stops the run.
  const journalWrites = new Set<Promise<void>>();
  const journaling = (write: Promise<void>): void => {
    const tracked: Promise<void> = write.then(
      () => {
        journalWrites.delete(tracked);
      },
      (error: unknown) => {
        journalWrites.delete(tracked);
        fatal ??= error;
      },
    );
    journalWrites.add(tracked);
  };
  const t = ctx.summary.phaseMs;
  let mark = performance.now();
  const lap = (phase: keyof typeof t): void => {
    const now = performance.now();
    t[phase] += now - mark;
    mark = now;
  };
  try {
    for await (const item of source) {
      lap('read');
      const batch = item.rows;
      let claim: BatchClaim | undefined = item.claim;
      try {
        ctx.summary.selected(batch);
        if (ctx.dryRun) {
          const { deletable, kept } = await guard(ctx, batch);
          await claim?.keep(kept);
          lap('guard');
          wouldDelete += dryRunBatch(ctx, deletable);
          ctx.onBatchDone();
        } else {
          const keys = distinctKeys(batch);
          await ctx.limiter.admit(keys, ctx.signal);
          lap('rateLimit');
          while (inFlight.size >= ctx.maxBatchesInFlight) await Promise.race(inFlight);
          while (journalWrites.size >= ctx.maxBatchesInFlight) await Promise.race(journalWrites);
          // Two batches in flight never share a key: the first would lock the second's rows of it
          // (and erase them with it) while the second, skipping them, could not tell why.
          if (inFlight.size > 0 && keys.some((k) => keysInFlight.has(k))) await Promise.all(inFlight);
          lap('backpressure');
          // A wait ended by a stop (SIGTERM, pause, an error) must not let the batch through.
          if (fatal || stop.reason || ctx.signal.aborted) break;
          for (const k of keys) keysInFlight.set(k, (keysInFlight.get(k) ?? 0) + 1);
          const task = deleteBatch(ctx, batch, claim, stop, removedAhead, journaling)
            .then(
              () => ctx.onBatchDone(),
              (error: unknown) => {
                fatal ??= error;
              },
            )
            .finally(() => {
              for (const k of keys) {
                const n = keysInFlight.get(k)! - 1;
                if (n === 0) keysInFlight.delete(k);
                else keysInFlight.set(k, n);
              }
            });
          claim = undefined; // the batch owns its claim now
          const tracked = task.finally(() => inFlight.delete(tracked));
          inFlight.add(tracked);
        }
        await claim?.commit();
        claim = undefined;
      } finally {
        // A claimed batch that was not handed on (a stop, an error) goes back to the pool.
        await claim?.abandon();
      }
      if (fatal) break;
      stoppedBy = stop.reason ?? (ctx.breaker.tripped ? 'breaker' : await ctx.shouldStop());
      lap('control');
      if (stoppedBy) break;
    }
  } catch (error) {
    fatal ??= error;
  }
  await Promise.all(inFlight);
  // Every committed batch is journaled (or the run has failed) before the run reports.
  while (journalWrites.size > 0) await Promise.all(journalWrites);
  lap('drain');
  // Most deletes of the last batches may have failed (within one batch too): `breakerTripped` says so.
  return {
    batchStop: stop.reason,
    batchStopError: stop.error,
    loopStop: stoppedBy,
    fatal,
    breakerTripped: ctx.breaker.tripped,
    aborted: ctx.signal.aborted,
    wouldDelete,
  };
}

/** Drops rows whose key a live row still needs or a legal hold keeps; returns the rest and their distinct keys. */
async function guard(ctx: PipelineContext, batch: readonly ExpiredRow[]): Promise<{ deletable: ExpiredRow[]; keys: string[]; kept: ExpiredRow[] }> {
  const distinct = [...new Set(batch.map((r) => r.fileKey))];
  const { shared, held } = await keysToKeep(ctx.pool, ctx.table, distinct, ctx.policies, ctx.cutoff);
  if (shared.size === 0 && held.size === 0) return { deletable: [...batch], keys: distinct, kept: [] };
  const deletable: ExpiredRow[] = [];
  const kept: ExpiredRow[] = [];
  for (const row of batch) {
    if (held.has(row.fileKey)) ctx.summary.held(row);
    else if (shared.has(row.fileKey)) ctx.summary.shared(row);
    else {
      deletable.push(row);
      continue;
    }
    kept.push(row);
  }
  return { deletable, keys: distinct.filter((k) => !shared.has(k) && !held.has(k)), kept };
}

function dryRunBatch(ctx: PipelineContext, rows: readonly ExpiredRow[]): number {
  const refused: RowOutcome[] = [];
  for (const row of rows) {
    const problem = checkKey(row.fileKey);
    if (problem) refused.push({ row, outcome: 'refused', code: problem.code, message: problem.message });
  }
  ctx.summary.outcomes(refused, null);
  return rows.length - refused.length;
}

/**
 * One batch, in one transaction (docs/safety.md#races): re-check under row locks, storage, then
 * the outcome statement, then commit. Every wait is behind us, so what the re-check finds is what
 * the storage call acts on; a pause, a policy change, a stop or storage that lies stop the batch
 * here, before storage, and its rows are kept.
 */
async function deleteBatch(
  ctx: PipelineContext,
  batch: readonly ExpiredRow[],
  claim: BatchClaim,
  stop: BatchStop,
  removedAhead: Set<string>,
  journaling: (write: Promise<void>) => void,
): Promise<void> {
  const tx = await claim.transaction();
  const journaled: JournalEntry[] = [];
  try {
    if (await deleteAndRecord(ctx, batch, tx, stop, removedAhead, journaled)) await tx.commit();
    else await tx.abandon();
  } catch (error) {
    await tx.abandon(error);
    throw error;
  }
  // After the commit: the journal never holds an erasure the ledger rolled back.
  if (ctx.journal && journaled.length > 0) journaling(ctx.journal.append(journaled));
}

const requestStop = (stop: BatchStop, reason: StopReason, error: unknown = null): void => {
  if (stop.reason) return;
  stop.reason = reason;
  stop.error = error;
};

/** Returns false when the batch must be rolled back untouched (a stop before storage). */
async function deleteAndRecord(
  ctx: PipelineContext,
  batch: readonly ExpiredRow[],
  tx: BatchTransaction,
  stop: BatchStop,
  removedAhead: Set<string>,
  journaled: JournalEntry[],
): Promise<boolean> {
  const refused: RowOutcome[] = [];
  const candidates: ExpiredRow[] = [];
  for (const row of batch) {
    // A row naming a key under .lethe/ must not reach into Lethe's trash; unsafe keys never reach storage.
    const problem = checkKey(row.fileKey) ?? (isReservedKey(row.fileKey) ? reservedKeyProblem() : null);
    if (problem) refused.push({ row, outcome: 'refused', code: problem.code, message: problem.message });
    else candidates.push(row);
  }
  await ctx.beforeRecheck?.(batch);
  const checkStarted = performance.now();
  const checked = ctx.request ? await ctx.request.recheck(tx.client, candidates) : await recheckBatch(tx.client, ctx.recheckSql, ctx.recheck, candidates);
  ctx.summary.phaseMs.guard += performance.now() - checkStarted;
  if (checked.control.paused) {
    requestStop(stop, 'paused');
    return false;
  }
  if (checked.control.policyVersion !== ctx.policyVersion) {
    requestStop(
      stop,
      'policy',
      new LetheError(
        ErrorCodes.POLICY_CHANGED,
        `the retention policy changed during the run (it started under version ${ctx.policyVersion}; version ${checked.control.policyVersion} is current): the run stopped before its next delete; run again to apply the current policy`,
      ),
    );
    return false;
  }
  if (ctx.signal.aborted || stop.reason) return false;
  // The failure breaker tripped on a batch that finished while this one waited: stop before storage.
  if (ctx.breaker.tripped) {
    requestStop(stop, 'breaker');
    return false;
  }
  for (const k of checked.kept) {
    if (k.reason === 'held') ctx.summary.held(k.row);
    else if (k.reason === 'shared') ctx.summary.shared(k.row);
    else ctx.summary.changed(k.row);
  }
  for (const v of checked.vanished) {
    if (removedAhead.delete(v.id)) ctx.summary.forget(v);
    else ctx.summary.vanished(v);
  }
  const byRequest = ctx.request ? requestOutcomes(ctx, checked as RequestRecheckedBatch) : [];
  await tx.keep(checked.kept.map((k) => k.row));
  const rows = checked.extra.length === 0 ? checked.deletable : [...checked.deletable, ...checked.extra];
  let outcomes: RowOutcome[] = [];
  let intentId: string | null = null;
  let derivedEvidence: readonly ObjectEvidence[] = [];
  if (rows.length > 0) {
    const lies = await ctx.presence.beforeStorage(rows, checked.keys);
    if (lies) {
      requestStop(stop, 'storage', lies);
      return false;
    }
    intentId = await recordIntent(ctx.pool, ctx.runId, rows);
    // Derived objects go first (derived/step.ts), then the source files of the rows they allow.
    const erased = ctx.derived
      ? await ctx.derived.eraseBefore(tx.client, rows, checked.keys, (r, k) => erase(ctx, r, k))
      : await erase(ctx, rows, checked.keys);
    if ('evidence' in erased) derivedEvidence = erased.evidence;
    outcomes = erased.outcomes;
    // Files may be gone although their delete failed: the intent stays, so the rerun expects them absent.
    if (erased.unknown) intentId = null;
    const after = await ctx.presence.afterStorage(
      rows,
      outcomes.map((o) => ({ key: o.row.fileKey, outcome: o.outcome as KeyOutcome['outcome'], ...(o.trash ? { trash: o.trash } : {}) })),
    );
    if (after) {
      // Most of the batch was "already absent": keep those rows, record what was really erased.
      requestStop(stop, 'storage', after.error);
      outcomes = outcomes.filter((o) => !(o.outcome === 'absent' && after.keep.has(o.row.fileKey)));
    }
  }
  if (checked.extra.length > 0) ctx.summary.selected(checked.extra);
  const all = refused.length === 0 && byRequest.length === 0 ? outcomes : [...refused, ...outcomes, ...byRequest];
  if (all.length === 0) return true;
  const writeStarted = performance.now();
  // Child rows go before the job rows they refer to, in this transaction (derived/child-rows.ts).
  await ctx.derived?.recordBefore(tx.client, all, derivedEvidence);
  const { notRemoved } = await writeOutcomes(tx.client, ctx.outcomeSql, {
    runId: ctx.runId,
    policyVersion: ctx.policyVersion,
    outcomes: all,
    ledgerKey: ctx.erasure?.ledgerKey,
    intentId,
    requestRef: ctx.request?.reference ?? null,
  });
  await tx.keep(all.filter((o) => o.outcome === 'failed' || o.outcome === 'refused').map((o) => o.row));
  ctx.summary.phaseMs.write += performance.now() - writeStarted;
  ctx.summary.outcomes(all, notRemoved);
  for (const e of checked.extra) removedAhead.add(e.id);
  if (ctx.journal) journaled.push(...ctx.journal.entries(all, notRemoved, ctx.request?.reference ?? null, (ctx.now ?? Date.now)()));
  return true;
}

/**
 * A request's rows that reach the ledger without a storage call: erased alone (`unlinked`, the
 * file stays for the rows that share it), kept under a statute (`retained`) or a hold (`held`).
 */
function requestOutcomes(ctx: PipelineContext, checked: RequestRecheckedBatch): RowOutcome[] {
  const out: RowOutcome[] = [];
  for (const row of checked.detached) {
    ctx.summary.shared(row);
    out.push({
      row,
      outcome: 'unlinked',
      code: ErrorCodes.SHARED_KEY,
      message: 'the row was erased; its file stays: other rows share it (docs/safety.md#shared-keys)',
    });
  }
  for (const k of checked.requestKept) {
    if (k.reason === 'changed') ctx.summary.changed(k.row);
    else if (k.reason === 'unjudged') {
      out.push({
        row: k.row,
        outcome: 'refused',
        code: ErrorCodes.POLICY_UNKNOWN,
        message: `not erased on request: purpose ${JSON.stringify(k.row.purpose)} has no retention policy (or created_at is not a time), so no retention duty can be ruled out`,
      });
    } else if (k.reason === 'held') {
      ctx.summary.held(k.row);
      out.push({ row: k.row, outcome: 'held', code: ErrorCodes.HELD, message: 'kept: the file is under a legal hold' });
    } else out.push({ row: k.row, outcome: 'retained', code: ErrorCodes.RETAINED, message: k.statute });
  }
  return out;
}

/**
 * The batch's intent, committed before the storage call (on another connection: the batch's own
 * transaction is still open). A crash after the call leaves it behind; the next run then expects
 * these rows' files to be absent (storage-presence.ts).
 */
async function recordIntent(pool: pg.Pool, runId: string, rows: readonly ExpiredRow[]): Promise<string> {
  const ids = new Array<string | null>(rows.length);
  for (let i = 0; i < rows.length; i++) ids[i] = rows[i]!.id;
  const { rows: r } = await pool.query<{ id: string }>(`INSERT INTO lethe_inflight (run_id, job_ids) VALUES ($1, $2::text[]) RETURNING id::text`, [
    runId,
    textArray(ids),
  ]);
  return r[0]!.id;
}

/** `unknown`: the storage call failed, or a key failed retryably, so which files are gone is not known for sure. */
async function erase(ctx: PipelineContext, rows: readonly ExpiredRow[], keys: readonly string[]): Promise<{ outcomes: RowOutcome[]; unknown: boolean }> {
  let results: KeyOutcome[];
  let unknown = false;
  let windowOf: ReadonlyMap<string, string> = new Map();
  try {
    const started = performance.now();
    ({ results, windowOf } = await eraseKeys(ctx.storage, ctx.erasure, rows, keys));
    ctx.summary.phaseMs.storage += performance.now() - started;
  } catch (error) {
    // The pool itself failed (a worker died): no key is known to be gone, every row is kept.
    const message = describeError(error);
    results = keys.map((key) => ({ key, outcome: 'failed', code: ErrorCodes.STORAGE, message, retryable: true }));
    unknown = true;
  }
  for (const r of results) {
    ctx.breaker.record(r.outcome);
    // A retryable failure (a timeout, a reset after the store acted) may have erased the file.
    if (r.outcome === 'failed' && r.retryable !== false) unknown = true;
  }
  return { outcomes: matchOutcomes(rows, results, windowOf), unknown };
}

/**
 * One outcome per row, from storage's outcomes per key. Usual case: every row has its own key and
 * storage answered in the keys' order, so row i takes result i (no Map or Set per batch). Otherwise
 * (shared keys, trash moves answering out of order) by key, where of two expired rows sharing a key
 * the first records the erasure and the others find it absent.
 */
function matchOutcomes(rows: readonly ExpiredRow[], results: readonly KeyOutcome[], windowOf: ReadonlyMap<string, string>): RowOutcome[] {
  const outcomes = new Array<RowOutcome>(rows.length);
  const toRow = (row: ExpiredRow, r: KeyOutcome, outcome: KeyOutcome['outcome']): RowOutcome => ({
    row,
    outcome,
    code: r.code,
    message: r.message,
    trash: r.trash,
    undoWindow: windowOf.size === 0 ? undefined : windowOf.get(row.fileKey),
  });
  let inOrder = results.length === rows.length;
  for (let i = 0; inOrder && i < rows.length; i++) inOrder = results[i]!.key === rows[i]!.fileKey;
  if (inOrder) {
    for (let i = 0; i < rows.length; i++) outcomes[i] = toRow(rows[i]!, results[i]!, results[i]!.outcome);
    return outcomes;
  }
  const byKey = new Map<string, KeyOutcome>();
  for (const r of results) byKey.set(r.key, r);
  const seen = new Set<string>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const r = byKey.get(row.fileKey) ?? { key: row.fileKey, outcome: 'failed', code: ErrorCodes.STORAGE, message: 'storage returned no outcome for this key' };
    // Two expired rows sharing a key: the first records the erasure, the others find it absent.
    outcomes[i] = toRow(row, r, r.outcome === 'erased' && seen.has(row.fileKey) ? 'absent' : r.outcome);
    seen.add(row.fileKey);
  }
  return outcomes;
}
