import { AuditActions, writeAudit } from '../db/tables/audit.js';
import { withTransaction, type Queryable } from '../db/pool.js';
import type { Engine } from '../engine.js';
import type { PurposeSelection } from '../run/source.js';
import { inspectJobsTable, type JobsTable } from '../db/jobs-table.js';
import { isCalendarRetention, retainedUnderOf, retentionToInterval } from '../policy/retention.js';
import { loadCurrentPolicies } from '../db/tables/policy-versions.js';
import type { RunOptions, RunRequest } from '../run/index.js';
import type { RunSummary } from '../run/summary.js';
import { checkPrincipalColumn, namedSql, readNamedRows } from './named-rows.js';
import { completionRecord, type CompletionRecord } from './completion-record.js';
import { notifyProcessors } from './processors.js';
import { recheckRequestBatch } from './request-recheck.js';
import { listErasureRequests, requireRequest, type ErasureRequest } from './request-store.js';
import type { ErasureTarget } from './request.js';

export interface RequestRunResult {
  readonly request: ErasureRequest;
  /** The run that served it now; null when the request was already completed. */
  readonly run: RunSummary | null;
  readonly record: CompletionRecord;
}

/** The run hooks of one request: its named rows as the source, its re-check under lock. */
export function requestRunHooks(engine: Engine, request: ErasureRequest): RunRequest {
  const target: ErasureTarget = { kind: request.target_kind, values: request.target_values };
  const principal = engine.options.erasure.principalColumn;
  return {
    reference: request.reference,
    rows: (table, policies, signal) => readNamedRows(engine.pool, { table, target, principal, policies, batchSize: engine.options.batchSize, signal }),
    recheck: (table, policies, selections) => (db, rows) =>
      recheckRequestBatch(
        db,
        { table, requestId: request.id, target, principal, policies: selections, retainedUnder: retainedUnderOf(policies), lock: true },
        rows,
      ),
  };
}

/**
 * Runs one request through the engine (docs/rights.md#how-a-request-runs): a run of its own
 * (trigger `request`, its own lethe_runs and audit rows), then, if that run completed and no named
 * row is left that is neither retained nor held, marks the request completed with its record.
 * Safe to call again after a crash (SIGKILL): the rerun finds what is left, the ledger keeps what
 * was done, and the request completes once.
 */
export interface RequestRunOptions {
  readonly signal?: AbortSignal;
  readonly trigger?: string;
  /** Test hook (interleaving tests): awaited in each batch's transaction right before its re-check. */
  readonly beforeRecheck?: RunOptions['beforeRecheck'];
}

export async function runErasureRequest(engine: Engine, reference: string, o: RequestRunOptions = {}): Promise<RequestRunResult> {
  const request = await requireRequest(engine.pool, reference);
  if (request.state === 'completed') return { request, run: null, record: await completionRecord(engine, request) };
  const table = await inspectJobsTable(engine.pool, engine.options.jobs);
  if (request.target_kind === 'principal') await checkPrincipalColumn(engine.pool, table, engine.options.erasure.principalColumn!);
  const run = await engine.run({
    request: requestRunHooks(engine, request),
    trigger: o.trigger ?? 'request',
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.beforeRecheck ? { beforeRecheck: o.beforeRecheck } : {}),
  });
  const completedNow = await settleRequest(engine, table, request, run);
  const after = await requireRequest(engine.pool, request.reference);
  const record = await completionRecord(engine, after);
  if (completedNow) {
    await writeAudit(engine.pool, AuditActions.ERASURE_COMPLETED, { ...record });
    await notifyProcessors(engine, after, record);
  }
  return { request: after, run, record };
}

/**
 * Records the run on the request; completes it when nothing erasable is left, under the request's
 * row lock (a batch holds it FOR SHARE, so this waits for batches in flight). True: completed now.
 */
async function settleRequest(engine: Engine, table: JobsTable, request: ErasureRequest, run: RunSummary): Promise<boolean> {
  return withTransaction(engine.pool, async (client) => {
    const locked = await client.query<{ state: string }>(`SELECT state FROM lethe_erasure_requests WHERE id = $1 FOR UPDATE`, [request.id]);
    if (locked.rows[0]?.state !== 'open') return false;
    const left = run.status === 'completed' ? await erasableLeft(client, engine, table, request) : -1;
    await client.query(
      `UPDATE lethe_erasure_requests SET last_run_id = $2::uuid, state = CASE WHEN $3 THEN 'completed' ELSE state END, completed_at = CASE WHEN $3 THEN now() ELSE completed_at END WHERE id = $1`,
      [request.id, run.run_id, left === 0],
    );
    return left === 0;
  });
}

/** Named rows still there that are neither retained by statute nor under an active hold. */
async function erasableLeft(db: Queryable, engine: Engine, table: JobsTable, request: ErasureRequest): Promise<number> {
  const policies = (await loadCurrentPolicies(db)).policies;
  const target: ErasureTarget = { kind: request.target_kind, values: request.target_values };
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table.table} j
      WHERE ${namedSql(table, target, engine.options.erasure.principalColumn, 1)}
        AND NOT (coalesce(j.${table.purpose}, '') = ANY($2::text[]))
        AND NOT EXISTS (SELECT 1 FROM lethe_holds h WHERE h.file_key = j.${table.fileKey} AND h.released_at IS NULL AND (h.until IS NULL OR h.until > now()))`,
    [[...target.values], [...retainedUnderOf(policies).keys()]],
  );
  return rows[0]?.n ?? 0;
}

/**
 * The next run's share (mode `next-run`, and any request an earlier run left open): each open
 * request, most urgent first, in a run of its own. A request that fails is logged and left open.
 */
export async function runOpenErasureRequests(engine: Engine, o: { readonly signal?: AbortSignal } = {}): Promise<RequestRunResult[]> {
  const out: RequestRunResult[] = [];
  for (const r of await listErasureRequests(engine, { state: 'open' })) {
    if (o.signal?.aborted) break;
    try {
      out.push(await runErasureRequest(engine, r.reference, { trigger: 'request', ...(o.signal ? { signal: o.signal } : {}) }));
    } catch (error) {
      engine.options.logger.warn(
        { reference: r.reference, error: (error as Error).message },
        'an erasure request could not run; it stays open for the next run',
      );
    }
  }
  return out;
}

export function policySelections(policies: Parameters<typeof retainedUnderOf>[0]): PurposeSelection[] {
  return Object.entries(policies).map(([purpose, r]) => ({ purpose, interval: retentionToInterval(r), calendar: isCalendarRetention(r) }));
}
