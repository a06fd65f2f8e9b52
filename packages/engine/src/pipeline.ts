import type pg from 'pg';
import { eraseKeys, type ErasurePlan } from './erasure-plan.js';
import { describeError, ErrorCodes } from './errors.js';
import type { PurposeSelection } from './expired-rows.js';
import type { JobsTable } from './jobs-table.js';
import { writeOutcomes, type RowOutcome } from './ledger.js';
import type { ExpiredRow, KeyOutcome, Logger, StoragePort } from './ports.js';
import type { TokenBucket } from './rate-limiter.js';
import type { BatchClaim, ClaimedBatch } from './claimed-rows.js';
import type { FailureBreaker } from './failure-breaker.js';
import { keysToKeep } from './shared-keys.js';
import { checkKey } from './storage/keys.js';
import type { SummaryBuilder } from './summary.js';

export type StopReason = 'paused' | 'interrupted' | 'failed' | 'breaker';

export interface PipelineContext {
  readonly pool: pg.Pool;
  readonly table: JobsTable;
  readonly storage: StoragePort;
  readonly limiter: TokenBucket;
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
  /** Undo windows (trash instead of delete) and how keys are written to the ledger (issue 7). */
  readonly erasure?: ErasurePlan;
}

export interface PipelineResult {
  readonly stoppedBy: StopReason | null;
  readonly error: unknown;
  readonly wouldDelete: number;
}

/**
 * Data flows one way: source -> guard (shared keys, legal holds) -> rate limiter -> storage (worker pool) ->
 * outcome writer. Reading batch N+1 overlaps deleting batch N and writing batch N-1's outcomes;
 * at most `maxBatchesInFlight` batches are between the limiter and the writer. On a stop,
 * batches in flight are drained (their outcomes written), never abandoned.
 */
export async function runPipeline(source: AsyncIterable<readonly ExpiredRow[] | ClaimedBatch>, ctx: PipelineContext): Promise<PipelineResult> {
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown = null;
  let stoppedBy: StopReason | null = null;
  let wouldDelete = 0;
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
      const batch = 'claim' in item ? item.rows : item;
      let claim: BatchClaim | undefined = 'claim' in item ? item.claim : undefined;
      try {
        ctx.summary.selected(batch);
        const { deletable, keys, kept } = await guard(ctx, batch);
        await claim?.keep(kept);
        lap('guard');
        if (ctx.dryRun) {
          wouldDelete += dryRunBatch(ctx, deletable);
          ctx.onBatchDone();
        } else if (deletable.length > 0) {
          await ctx.limiter.take(keys.length, ctx.signal);
          lap('rateLimit');
          while (inFlight.size >= ctx.maxBatchesInFlight) await Promise.race(inFlight);
          lap('backpressure');
          if (fatal) break;
          const task = deleteBatch(ctx, deletable, keys, claim).then(
            () => ctx.onBatchDone(),
            (error: unknown) => {
              fatal ??= error;
            },
          );
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
      stoppedBy = ctx.breaker.tripped ? 'breaker' : await ctx.shouldStop();
      lap('control');
      if (stoppedBy) break;
    }
  } catch (error) {
    fatal ??= error;
  }
  await Promise.all(inFlight);
  lap('drain');
  return { stoppedBy: fatal ? 'failed' : stoppedBy, error: fatal, wouldDelete };
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

async function deleteBatch(ctx: PipelineContext, rows: readonly ExpiredRow[], keys: readonly string[], claim: BatchClaim | undefined): Promise<void> {
  try {
    await deleteAndRecord(ctx, rows, keys, claim);
    await claim?.commit();
  } catch (error) {
    await claim?.abandon(error);
    throw error;
  }
}

async function deleteAndRecord(ctx: PipelineContext, rows: readonly ExpiredRow[], keys: readonly string[], claim: BatchClaim | undefined): Promise<void> {
  let results: KeyOutcome[];
  let windowOf: ReadonlyMap<string, string> = new Map();
  try {
    const started = performance.now();
    ({ results, windowOf } = await eraseKeys(ctx.storage, ctx.erasure, rows, keys));
    ctx.summary.phaseMs.storage += performance.now() - started;
  } catch (error) {
    // The pool itself failed (a worker died): no key is known to be gone, every row is kept.
    const message = describeError(error);
    results = keys.map((key) => ({ key, outcome: 'failed', code: ErrorCodes.STORAGE, message, retryable: true }));
  }
  const outcomes = matchOutcomes(rows, results, windowOf);
  for (const r of results) ctx.breaker.record(r.outcome);
  const writeStarted = performance.now();
  const { notRemoved } = await writeOutcomes(claim?.client ?? ctx.pool, ctx.outcomeSql, ctx.runId, ctx.policyVersion, outcomes, ctx.erasure?.ledgerKey);
  await claim?.keep(outcomes.filter((o) => o.outcome === 'failed' || o.outcome === 'refused').map((o) => o.row));
  ctx.summary.phaseMs.write += performance.now() - writeStarted;
  ctx.summary.outcomes(outcomes, notRemoved);
}

/**
 * One outcome per row, from storage's outcomes per key. Usual case: every row has its own key and
 * storage answered in the keys' order, so row i takes result i (no Map or Set per batch). Otherwise
 * (shared keys, trash moves answering out of order) by key, where of two expired rows sharing a key
 * the first records the erasure and the others find it absent.
 */
function matchOutcomes(rows: readonly ExpiredRow[], results: readonly KeyOutcome[], windowOf: ReadonlyMap<string, string>): RowOutcome[] {
  const outcomes = new Array<RowOutcome>(rows.length);
  const toRow = (row: ExpiredRow, r: KeyOutcome, outcome: KeyOutcome['outcome']): RowOutcome =>
    ({ row, outcome, code: r.code, message: r.message, trash: r.trash, undoWindow: windowOf.size === 0 ? undefined : windowOf.get(row.fileKey) });
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
